"""Scenario abrupt_drop: Open, chat, then cut TCP without a close frame (a killed browser tab)."""

from scenarios.common import ChatUser


class AbruptDropUser(ChatUser):
    scenario = "abrupt_drop"
