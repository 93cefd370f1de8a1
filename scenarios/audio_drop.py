"""Scenario audio_drop: Stream mic audio, leave before mic-audio-end."""

from harness.load.users import ChatUser


class AudioDropUser(ChatUser):
    scenario = "audio_drop"
