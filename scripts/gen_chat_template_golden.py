#!/usr/bin/env python3
"""Renders every tests/data/chat_templates/*.jinja with Python's jinja2 the way Hugging Face's
apply_chat_template does, over a fixed set of conversations, and writes the expected outputs to
tests/data/chat_templates/golden/<template>.json for chat_template_golden_test.

HF's environment (transformers' chat template utilities): ImmutableSandboxedEnvironment with
trim_blocks=True, lstrip_blocks=True and the loopcontrols extension; tojson is json.dumps with
ensure_ascii=False (no HTML escaping); raise_exception(msg) raises; strftime_now(fmt) formats the
current time, here a fixed instant so outputs are reproducible. Variables: messages, tools
(None when absent), documents=None, add_generation_prompt, the special tokens, extra kwargs.

Usage: scripts/gen_chat_template_golden.py [--check]   (--check: fail if a file would change)
"""
import argparse
import datetime
import json
import pathlib
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "tests" / "data" / "chat_templates"
GOLDEN = TEMPLATES / "golden"
# 2024-07-26 12:00:00 UTC; the C++ test renders strftime_now in UTC at the same instant.
NOW = datetime.datetime(2024, 7, 26, 12, 0, 0, tzinfo=datetime.timezone.utc)

# Special tokens per template, as each model's tokenizer_config.json names them.
SPECIAL_TOKENS = {
    "smollm2": ("<|im_start|>", "<|im_end|>"),
    "llama3.1": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama3.2": ("<|begin_of_text|>", "<|eot_id|>"),
    "qwen2.5": ("", "<|im_end|>"),
    "qwen3": ("", "<|im_end|>"),
    "qwq": ("", "<|im_end|>"),
    "mistral_nemo": ("<s>", "</s>"),
    "mistral_small3.2": ("<s>", "</s>"),
    "gemma2": ("<bos>", "<eos>"),
    "deepseek_r1": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek_v3.1": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "phi3.5": ("<s>", "<|endoftext|>"),
    "hermes3": ("<|begin_of_text|>", "<|im_end|>"),
    "granite3.3": ("", "<|end_of_text|>"),
    "gpt_oss": ("<|startoftext|>", "<|return|>"),
}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "City name, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "minimum": 1, "default": 1},
                    "threshold": {"type": "number", "default": 0.5},
                },
                "required": ["location"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    },
]

TOOL_CALL = {
    "id": "call12345",  # Mistral templates require 9 alphanumeric characters
    "type": "function",
    "function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}},
}

SYSTEM = {"role": "system", "content": "You are a concise assistant."}
USER1 = {"role": "user", "content": "What is the capital of France?"}
ASSISTANT1 = {"role": "assistant", "content": "The capital of France is Paris."}
USER2 = {"role": "user", "content": "And its population?"}

CONVERSATIONS = [
    ("user_only", [USER1], {}),
    ("system_user", [SYSTEM, USER1], {}),
    ("multi_turn", [SYSTEM, USER1, ASSISTANT1, USER2], {}),
    ("multi_turn_no_system", [USER1, ASSISTANT1, USER2], {}),
    ("ends_with_assistant", [USER1, ASSISTANT1], {}),
    ("unicode_and_quotes", [
        {"role": "user", "content": "Ça va? 日本語 \"quoted\" 'single' {{ not a tag }} {% x %}\n\tTabbed"},
        {"role": "assistant", "content": "  Très bien — ✓ emoji 🚀 \\backslash\\  "},
        {"role": "user", "content": "\n  padded  \n"},
    ], {}),
    ("tools_user", [SYSTEM, {"role": "user", "content": "Weather in Paris?"}], {"tools": TOOLS}),
    ("tool_call_roundtrip", [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
         "content": "{\"temperature\": 22, \"unit\": \"celsius\"}"},
        {"role": "assistant", "content": "It is 22 °C in Paris."},
        {"role": "user", "content": "Thanks!"},
    ], {"tools": TOOLS}),
    ("thinking", [
        USER1,
        {"role": "assistant", "content": "<think>\nThe user asks a fact.\n</think>\n\nParis."},
        USER2,
    ], {"enable_thinking": False}),
    ("alternation_error", [USER1, {"role": "user", "content": "Hello again"}], {}),
    ("empty_messages", [], {}),
]


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                       extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: NOW.strftime(fmt)
    return env


def build_context(messages, extra, add_generation_prompt, bos, eos):
    context = {
        "messages": messages,
        "tools": extra.get("tools"),
        "documents": None,
        "add_generation_prompt": add_generation_prompt,
        "bos_token": bos,
        "eos_token": eos,
    }
    for key, value in extra.items():
        context[key] = value
    return context


def golden_for(env, name, source):
    template = env.from_string(source)
    bos, eos = SPECIAL_TOKENS[name]
    cases = []
    for conv_name, messages, extra in CONVERSATIONS:
        for add_generation_prompt in (False, True):
            context = build_context(messages, extra, add_generation_prompt, bos, eos)
            case = {"name": f"{conv_name}/{'gen' if add_generation_prompt else 'nogen'}",
                    "context": context}
            try:
                case["output"] = template.render(**json.loads(json.dumps(context)))
            except Exception as e:  # the C++ renderer must fail too
                case["error"] = f"{type(e).__name__}: {e}"
            cases.append(case)
    return {
        "template": f"{name}.jinja",
        "now": int(NOW.timestamp()),
        "generator": f"scripts/gen_chat_template_golden.py, jinja2 {jinja2.__version__}",
        "cases": cases,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    env = make_env()
    GOLDEN.mkdir(exist_ok=True)
    stale = []
    for path in sorted(TEMPLATES.glob("*.jinja")):
        name = path.stem
        if name not in SPECIAL_TOKENS:
            sys.exit(f"{path}: add its special tokens to SPECIAL_TOKENS")
        golden = golden_for(env, name, path.read_text(encoding="utf-8"))
        text = json.dumps(golden, ensure_ascii=False, indent=1) + "\n"
        out = GOLDEN / f"{name}.json"
        errors = sum("error" in c for c in golden["cases"])
        print(f"{name}: {len(golden['cases'])} cases, {errors} raise")
        if args.check:
            if not out.exists() or out.read_text(encoding="utf-8") != text:
                stale.append(out)
        else:
            out.write_text(text, encoding="utf-8")
    if stale:
        sys.exit("stale golden files: " + ", ".join(map(str, stale)))


if __name__ == "__main__":
    main()
