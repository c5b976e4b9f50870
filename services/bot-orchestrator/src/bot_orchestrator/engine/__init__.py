"""The interview engine: walks the question plan, no audio and no I/O of its own.

Events in (``InterviewEngine.started``, ``candidate_said``, ``tick``, ``resumed``, ...), actions out
(``Say``, ``RecordAnswer``, ``End``). The interviewer port chooses follow-ups: ``ScriptedInterviewer`` by rules,
``LlmInterviewer`` through an OpenAI-compatible model's function calls; the engine keeps control of the plan.
"""

from bot_orchestrator.engine.actions import Action, End, EndReason, RecordAnswer, Say, SayKind
from bot_orchestrator.engine.engine import EngineRules, InterviewEngine, PastSegment
from bot_orchestrator.engine.interviewer import (
    AskFollowUp,
    Decision,
    EndInterview,
    Interviewer,
    NextQuestion,
    ScriptedInterviewer,
    TurnContext,
)
from bot_orchestrator.engine.lines import Lines
from bot_orchestrator.engine.llm import LlmClient, LlmError, LlmInterviewer, LlmReply, OpenAiChatClient, ToolCall
from bot_orchestrator.engine.passages import InMemoryPassages, NoPassages, Passage, PassageSource
from bot_orchestrator.engine.stop import asks_to_stop

__all__ = [
    "Action", "AskFollowUp", "Decision", "End", "EndInterview", "EndReason", "EngineRules", "InMemoryPassages",
    "Interviewer", "InterviewEngine", "Lines", "LlmClient", "LlmError", "LlmInterviewer", "LlmReply", "NextQuestion",
    "NoPassages", "OpenAiChatClient", "PastSegment", "Passage", "PassageSource", "RecordAnswer", "Say", "SayKind",
    "ScriptedInterviewer", "ToolCall", "TurnContext", "asks_to_stop",
]
