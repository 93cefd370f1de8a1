"""Scenario clean_close: Open, chat once, close with a close frame."""

from scenarios.common import ChatUser


class CleanCloseUser(ChatUser):
    scenario = "clean_close"
