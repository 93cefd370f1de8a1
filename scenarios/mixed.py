"""Scenario mixed: Every behaviour, in the fixed proportions of behaviours.MIX (the default)."""

from scenarios.common import ChatUser


class MixedUser(ChatUser):
    scenario = "mixed"
