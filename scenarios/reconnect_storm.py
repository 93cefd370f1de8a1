"""Scenario reconnect_storm: Open and close with no chat, as fast as possible."""

from harness.load.users import ChatUser


class ReconnectStormUser(ChatUser):
    scenario = "reconnect_storm"
