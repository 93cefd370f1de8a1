"""Scenario clean_close: Open, chat once, close with a close frame."""

from harness.load.users import ChatUser


class CleanCloseUser(ChatUser):
    scenario = "clean_close"
