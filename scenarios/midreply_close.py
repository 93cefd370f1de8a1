"""Scenario midreply_close: Leave while the reply is still streaming."""

from scenarios.common import ChatUser


class MidreplyCloseUser(ChatUser):
    scenario = "midreply_close"
