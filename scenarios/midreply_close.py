"""Scenario midreply_close: Leave while the reply is still streaming."""

from harness.load.users import ChatUser


class MidreplyCloseUser(ChatUser):
    scenario = "midreply_close"
