"""Scenario interrupt_close: Start a turn, interrupt it after the first sentence, close."""

from harness.load.users import ChatUser


class InterruptCloseUser(ChatUser):
    scenario = "interrupt_close"
