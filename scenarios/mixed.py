"""Scenario mixed: Every behaviour, in the fixed proportions of behaviours.MIX (the default)."""

from harness.load.users import ChatUser


class MixedUser(ChatUser):
    scenario = "mixed"
