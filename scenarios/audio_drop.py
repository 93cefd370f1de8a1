"""Scenario audio_drop: Stream mic audio, leave before mic-audio-end."""

from scenarios.common import ChatUser


class AudioDropUser(ChatUser):
    scenario = "audio_drop"
