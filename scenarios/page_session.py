"""Scenario page_session: What the web page does: connect, fetch configs and history, heartbeat, chat, close."""

from harness.load.users import ChatUser


class PageSessionUser(ChatUser):
    scenario = "page_session"
