"""The upload URL's chunk PUTs: validated (Content-Type, Content-Range continuing the upload,
the planned chunk length) before the body is read, hashed while it is read, committed only when
it arrived whole."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Final

from local.tiktok.faults import FaultPlans
from local.tiktok.protocol import VIDEO_CONTENT_TYPES, Reply, StubError, envelope
from local.tiktok.state import Post

if TYPE_CHECKING:
    from local.tiktok.server import StubHandler

logger = logging.getLogger("local.tiktok")

_CONTENT_RANGE: Final = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class Upload(FaultPlans):
    """One PUT per chunk, in order, within the upload URL's hour."""

    def _upload(self, request: StubHandler) -> Reply:
        """One chunk PUT. Validates before reading, hashes while reading, commits at the end."""
        with self._lock:
            admitted = self._admit_chunk(request)
        if isinstance(admitted, Reply):
            # Draining a refused body happens outside the lock: it can be many megabytes.
            return request.reject(admitted)
        post, index, first, last, media_type = admitted
        try:
            return self._receive_chunk(request, post, index, first, last, media_type)
        finally:
            with self._lock:
                post.in_flight = False

    def _admit_chunk(self, request: StubHandler) -> Reply | tuple[Post, int, int, int, str]:
        """The refusal of this PUT, or what to receive; marks the upload busy when admitted."""
        publish_id = self._uploads.get(request.query.get("upload_id", ""))
        post = self._posts.get(publish_id or "")
        if post is None or not secrets.compare_digest(
            request.query.get("upload_token", ""), post.upload_token
        ):
            return self._upload_error(404, "not_found", "no upload task for this URL")
        # The docs do not say whether TikTok refuses an Authorization header here; note it.
        if request.headers.get("Authorization"):
            post.authorization_on_put = True
        progress = self._progress_header(post)
        if self.now() >= post.upload_expires_at:
            return self._upload_error(403, "upload_url_expired", "upload URL expired", progress)
        try:
            first, last, media_type = self._check_chunk_headers(request, post)
        except StubError as error:
            return self._upload_error(error.status, error.code, error.message, progress)
        post.in_flight = True
        return post, post.chunks_received, first, last, media_type

    def _check_chunk_headers(self, request: StubHandler, post: Post) -> tuple[int, int, str]:
        media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type not in VIDEO_CONTENT_TYPES:
            raise StubError(400, "invalid_param", "Content-Type must be a supported video type")
        if request.headers.get("Transfer-Encoding"):
            raise StubError(400, "invalid_param", "Content-Length is required, not chunked")
        found = _CONTENT_RANGE.match(request.headers.get("Content-Range", "").strip())
        if not found:
            raise StubError(400, "invalid_param", "Content-Range must be bytes FIRST-LAST/TOTAL")
        first, last, total = (int(g) for g in found.groups())
        if total != post.video_size or last < first or last >= total:
            raise StubError(400, "invalid_param", "Content-Range disagrees with video_size")
        if post.complete or post.in_flight or first != post.bytes_received:
            raise StubError(416, "range_not_satisfiable", "Content-Range does not continue")
        length = last - first + 1
        if length != post.chunk_length(post.chunks_received):
            raise StubError(400, "invalid_param", "chunk size differs from the planned chunk")
        if request.content_length != length:
            raise StubError(400, "invalid_param", "Content-Length differs from Content-Range")
        return first, last, media_type

    def _receive_chunk(
        self,
        request: StubHandler,
        post: Post,
        index: int,
        first: int,
        last: int,
        media_type: str,
    ) -> Reply:
        delay, fault = self._take_fault("upload", index, post.publish_id)
        if delay:
            time.sleep(delay)
        if fault is not None and not fault.after_processing:
            if fault.kind == "drop":
                return request.reject(Reply(0, drop=True))
            with self._lock:
                progress = self._progress_header(post) if fault.progress_header else None
            return request.reject(
                self._upload_error(fault.status, fault.code, "injected", progress)
            )
        # Hash into a copy: a chunk that does not arrive whole leaves the upload as it was.
        with self._lock:
            hasher = post.hasher.copy()
        if not request.read_body_into(last - first + 1, hasher.update):
            return self._upload_error(400, "invalid_param", "body shorter than Content-Length")
        with self._lock:
            post.hasher = hasher
            post.bytes_received = last + 1
            post.chunks_received = index + 1
            post.content_types.append(media_type)
            if post.complete:
                post.completed_at = self.now()
            progress = self._progress_header(post)
        status = 201 if post.complete else 206
        reply = Reply(status, b"", {"Content-Range": progress})
        if fault is not None:
            reply.drop = True
        logger.debug("upload %s chunk %d: bytes %d-%d", post.publish_id, index, first, last)
        return reply

    @staticmethod
    def _progress_header(post: Post) -> str:
        if post.bytes_received == 0:
            return f"bytes */{post.video_size}"
        return f"bytes 0-{post.bytes_received - 1}/{post.video_size}"

    @staticmethod
    def _upload_error(status: int, code: str, message: str, progress: str | None = None) -> Reply:
        headers = {"Content-Range": progress} if progress else {}
        return Reply.json(status, envelope(None, code, message), headers)
