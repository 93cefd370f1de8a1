"""ChatState's cleanup order as plain data: no sockets, a real event loop."""

from __future__ import annotations

import asyncio
from array import array
from pathlib import Path

from server.agent import Agent, LatencyModel, Memory
from server.context import ServiceContext
from server.faults import parse_faults
from server.state import ChatState


async def connect_one(state: ChatState, tmp_path: Path, uid: str = "c1") -> ServiceContext:
    context = ServiceContext(
        uid, Agent(LatencyModel(), state.new_memory()), state.resources, tmp_path,
        owns_memory=state.shared_memory is None,
    )
    state.connect(uid, object(), context)
    state.received_data_buffers[uid].extend(array("f", [0.1] * 100))
    state.current_conversation_tasks[uid] = asyncio.create_task(asyncio.sleep(3600))
    return context


def test_disconnect_gives_everything_back(tmp_path: Path) -> None:
    """The fixed cleanup awaits the turn, closes the context and empties every table."""

    async def scenario() -> tuple[dict[str, float], asyncio.Task[None], ServiceContext]:
        state = ChatState(parse_faults([]))
        context = await connect_one(state, tmp_path)
        task = state.current_conversation_tasks["c1"]
        await state.handle_disconnect("c1")
        return state.gauges(), task, context

    gauges, task, context = asyncio.run(scenario())
    assert task.cancelled(), "the turn must be cancelled and awaited"
    assert context.closed and context.log.closed
    assert context.tts.task.done()
    leftovers = {k: v for k, v in gauges.items() if v and k != "chat_sessions_total"}
    assert leftovers == {}


def test_each_fault_skips_its_own_step_only(tmp_path: Path) -> None:
    """A fault leaves exactly its own table behind; everything else is still cleaned."""
    expected = {
        "buffers": {"chat_audio_buffers": 1, "chat_audio_buffer_bytes": 400},
        "heartbeats": {"chat_heartbeats": 1},
        "handlers": {"chat_message_handler_clients": 1},
        "wakeword": {"chat_wake_word_clients": 1},
        "contexts": {"chat_tts_workers": 1, "chat_log_handles": 1},
        "memory": {},
        "tasks": {},
    }
    for fault, left in expected.items():

        async def scenario(fault: str = fault) -> dict[str, float]:
            state = ChatState(parse_faults([fault]))
            context = await connect_one(state, tmp_path, uid=f"{fault}-1")
            context.agent.memory.add("user", "hello")
            await state.handle_disconnect(f"{fault}-1")
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()
            return state.gauges()

        gauges = asyncio.run(scenario())
        if fault == "memory":
            left = {"chat_agent_memory_messages": 1}
        leftovers = {k: v for k, v in gauges.items() if v and k != "chat_sessions_total"}
        assert leftovers == left, fault


def test_memory_fault_shares_one_memory(tmp_path: Path) -> None:
    """Under the memory fault every client's agent writes to the same memory."""
    state = ChatState(parse_faults(["memory"]))
    assert state.new_memory() is state.new_memory()
    fixed = ChatState(parse_faults([]))
    assert fixed.new_memory() is not fixed.new_memory()
    assert isinstance(fixed.new_memory(), Memory)
