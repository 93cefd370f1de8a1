"""Scenario abrupt_drop: Open, chat, then cut TCP without a close frame (a killed browser tab)."""

from harness.load.users import ChatUser


class AbruptDropUser(ChatUser):
    scenario = "abrupt_drop"
