"""Local quantized model backend (llama-cpp-python): constrained tool calls, prompt-prefix cache."""
from local_llm.api import LocalConfig, LocalReply, ToolCall, TurnTiming
from local_llm.model import LocalModel, default_model_path
from local_llm.prompt import tool_catalog

__all__ = ["LocalConfig", "LocalModel", "LocalReply", "ToolCall", "TurnTiming", "default_model_path", "tool_catalog"]
