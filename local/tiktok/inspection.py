"""What the stand-in received, for tests and demos: every publish (`GET /_inspect/posts`) and
every request (`GET /_inspect/requests`), never a token or a video byte."""

from __future__ import annotations

from typing import Any

from local.tiktok.protocol import Reply, iso
from local.tiktok.state import Post, StubState


class Inspection(StubState):
    """Read-only views of the posts and the request log."""

    def posts(self) -> list[dict[str, Any]]:
        """Every publish received, oldest first."""
        with self._lock:
            return [self._post_view(p) for p in self._posts.values()]

    def post(self, publish_id: str) -> dict[str, Any]:
        with self._lock:
            return self._post_view(self._posts[publish_id])

    def requests(self) -> list[dict[str, Any]]:
        """Method, path (no query), endpoint and status of every request; never a token."""
        with self._lock:
            return list(self._requests)

    def _post_view(self, post: Post) -> dict[str, Any]:
        return {
            "publish_id": post.publish_id,
            "open_id": post.open_id,
            "title": post.post_info.get("title", ""),
            "privacy_level": post.post_info.get("privacy_level"),
            "post_info": post.post_info,
            "video_size": post.video_size,
            "chunk_size": post.chunk_size,
            "total_chunk_count": post.total_chunk_count,
            "bytes_received": post.bytes_received,
            "chunk_count_received": post.chunks_received,
            "complete": post.complete,
            "sha256": post.hasher.hexdigest(),
            "status": post.status(),
            "fail_reason": post.fail_reason,
            "public_post_ids": [str(i) for i in post.public_post_ids],
            "content_types": sorted(set(post.content_types)),
            "authorization_header_on_put": post.authorization_on_put,
            "created_at": iso(post.created_at),
            "completed_at": iso(post.completed_at),
            "upload_expires_at": iso(post.upload_expires_at),
        }

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(entry)

    def _inspect_reply(self, method: str, path: str) -> Reply | None:
        """The answer to `GET /_inspect/posts` or `GET /_inspect/requests`; None for others."""
        if method == "GET" and path == "/_inspect/posts":
            return Reply.json(200, self.posts())
        if method == "GET" and path == "/_inspect/requests":
            return Reply.json(200, self.requests())
        return None
