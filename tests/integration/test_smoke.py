from tests.support import AwsStack


def test_create_then_list(stack: AwsStack) -> None:
    user = stack.user("basic")
    video = user.video()
    account = user.account()
    created = user.create(video, account)
    assert created.status == 200, created.body
    listed = user.call("GET", "/api/v1/schedule/scheduled-videos")
    assert listed.status == 200, listed.body
    assert listed.body["data"][0]["id"] == created.body["data"]["scheduleId"]
