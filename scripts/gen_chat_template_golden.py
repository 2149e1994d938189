#!/usr/bin/env python3
"""Renders every tests/data/chat_templates/*.jinja with Python's jinja2 the way Hugging Face's
apply_chat_template does, over a fixed set of conversations, and writes the expected outputs to
tests/data/chat_templates/golden/<template>.json for chat_template_golden_test.

golden/_api_requests.json: hearth.v1 GenerateRequests (proto3 JSON) whose chat fields carry tools,
tool calls, tool_call_id and name, rendered with a few real templates after the conversion
inference.proto documents (each *_json string parsed as is; content unset beside tool calls is
None; empty name / tool_call_id absent), for tests/server/chat_tools_test.cc.

HF's environment (transformers' chat template utilities): ImmutableSandboxedEnvironment with
trim_blocks=True, lstrip_blocks=True and the loopcontrols extension; tojson is json.dumps with
ensure_ascii=False (no HTML escaping); raise_exception(msg) raises; strftime_now(fmt) formats the
current time, here a fixed instant so outputs are reproducible. Variables: messages, tools
(None when absent), documents=None, add_generation_prompt, the special tokens, extra kwargs.

It also renders the template stored in real GGUF files (tokenizer.chat_template, read with the
gguf package) into golden/gguf/<name>.json, with bos_token/eos_token taken from the same GGUF's
vocabulary; the C++ test reads the template and the tokens from the GGUF with Hearth's own reader.
The SmolLM2 GGUF comes from HEARTH_SMOLLM2_GGUF or scripts/fetch_default_model.sh's cache.

Usage: scripts/gen_chat_template_golden.py [--check]   (--check: fail if a file would change)
"""
import argparse
import datetime
import json
import os
import pathlib
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "tests" / "data" / "chat_templates"
GOLDEN = TEMPLATES / "golden"
TEST_DATA = ROOT / "tests" / "data"

# GGUFs whose own tokenizer.chat_template is checked: name -> (how the C++ test finds the file,
# path). "env:VAR" means the environment variable VAR (default: the fetch script's cache).
GGUFS = {
    "smollm2_gguf": ("env:HEARTH_SMOLLM2_GGUF",
                     os.environ.get("HEARTH_SMOLLM2_GGUF") or os.path.expanduser(
                         "~/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf")),
    "phi3_vocab_gguf": ("data:llama-vocab/ggml-vocab-phi-3.gguf",
                        str(TEST_DATA / "llama-vocab" / "ggml-vocab-phi-3.gguf")),
}
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
    "mistral7b_v0.3_hfjs": ("<s>", "</s>"),
    "mistral_small3.2": ("<s>", "</s>"),
    "gemma2": ("<bos>", "<eos>"),
    "gemma3": ("<bos>", "<eos>"),
    "deepseek_r1": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek_v3": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek_v3.1": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "phi3.5": ("<s>", "<|endoftext|>"),
    "hermes3": ("<|begin_of_text|>", "<|im_end|>"),
    "granite3.3": ("", "<|end_of_text|>"),
    "gpt_oss": ("<|startoftext|>", "<|return|>"),
    "gemma4": ("<bos>", "<eos>"),
    "deepseek_v3.2": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "ministral3_reasoning": ("<s>", "</s>"),
    "smollm3": ("", "<|im_end|>"),
    "kimi_k2": ("[BOS]", "[EOS]"),
    "glm4.6": ("", "<|endoftext|>"),
    "functionary3.1": ("<|begin_of_text|>", "<|eot_id|>"),
    "command_r7b": ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    "qwen3.5": ("", "<|im_end|>"),
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
    ("tool_call_null_content", [
        SYSTEM,
        {"role": "user", "content": "Weather in Paris and search news?"},
        {"role": "assistant", "content": None, "tool_calls": [
            TOOL_CALL,
            {"id": "call67890", "type": "function",
             "function": {"name": "search", "arguments": {"query": "Paris news"}}}]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "22"},
        {"role": "tool", "tool_call_id": "call67890", "name": "search", "content": "No news."},
    ], {"tools": TOOLS}),
    # OpenAI wire form: arguments as a JSON string (DeepSeek's templates concatenate it).
    ("tool_call_string_args", [
        SYSTEM,
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call12345", "type": "function", "function": {
                "name": "get_weather", "arguments": "{\"location\": \"Paris\"}"}},
            {"id": "call67890", "type": "function", "function": {
                "name": "get_weather", "arguments": "{\"location\": \"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "22"},
        {"role": "tool", "tool_call_id": "call67890", "name": "get_weather", "content": "25"},
        {"role": "assistant", "content": "Paris 22, Rome 25."},
        {"role": "user", "content": "Thanks."},
    ], {"tools": TOOLS}),
    ("content_parts", [
        {"role": "user", "content": [{"type": "text", "text": "Describe this."},
                                     {"type": "text", "text": " Briefly."}]},
    ], {}),
    ("multimodal_parts", [
        {"role": "system", "content": [{"type": "text", "text": "Answer in one sentence."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " What is shown? "}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat on a mat."}]},
        {"role": "user", "content": [{"type": "text", "text": "What colour?"}]},
    ], {}),
    ("alternation_error", [USER1, {"role": "user", "content": "Hello again"}], {}),
    ("empty_messages", [], {}),
]


# Small templates, one feature each, rendered over FEATURE_CONTEXT into golden/_features.json.
FEATURE_CONTEXT = {
    "messages": [SYSTEM, USER1, ASSISTANT1, USER2],
    "tools": TOOLS,
    "d": {"b": 2, "a": 1, "nested": {"x": [1, 2.5, None, True, "s"]}, "items": "key named items"},
    "n": 7, "f": 2.5, "big": 1e20, "small": 1.5e-7, "neg": -3, "zero": 0,
    "s": "  Hello, World! hello  ", "u": "héllo wörld 日本", "empty": "", "none": None,
    "words": ["b", "A", "c", "a"], "nums": [3, 1, 2], "flag": True,
}

FEATURES = [
    # whitespace control: trim_blocks, lstrip_blocks, -, +
    "a\n  {% if true %}\n  b\n  {% endif %}\n  c",
    "a  {%- if true -%}  b  {%- endif -%}  c",
    "a\n  {{- 'x' -}}  \n b",
    "a\n  {%+ if true %}x{% endif +%}\nb",
    "  {# comment #}\nx {#- c -#}  y",
    "{% for i in [1, 2] %}\n    {{ i }}\n{% endfor %}\n",
    "line1\r\nline2\r\n",
    "{% if true %}yes{% endif %}\n\n",
    # loops and loop variables
    "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }} {% endfor %}",
    "{% for m in messages %}{{ loop.previtem.role if loop.previtem is defined else '-' }}>{{ loop.nextitem.role if loop.nextitem is defined else '-' }} {% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% for k in d %}{{ k }},{% endfor %}",
    "{% for c in 'abc' %}{{ c }}-{% endfor %}",
    "{% for x in [] %}x{% else %}empty{% endfor %}",
    "{% for m in messages if m.role != 'system' %}{{ loop.index }}{{ m.role }} {% endfor %}",
    "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for i in range(3) %}{% for j in range(2) %}{{ i }}{{ j }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}",
    "{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}",
    "{% for i in [1,2,3] %}{{ loop.cycle('odd', 'even') }} {% endfor %}",
    "{% for x in none %}{% endfor %}",
    # scoping, set, namespace
    "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}",
    "{% set ns = namespace(total=0, names=[]) %}{% for m in messages %}{% set ns.total = ns.total + 1 %}{% set ns.names = ns.names + [m.role] %}{% endfor %}{{ ns.total }} {{ ns.names }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}",
    "{% set block %}  inner {{ n }}  {% endset %}[{{ block }}]",
    "{% if true %}{% set y = 5 %}{% endif %}{{ y }}",
    # macros
    "{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', 'Hi') }} {{ greet('C', punct='?') }} {{ greet(name='D') }}",
    "{% macro show(x) %}[{{ x }}|{{ top }}]{% endmacro %}{% set top = 'T' %}{{ show(1) }}{{ show() }}",
    "{% macro rec(k) %}{{ k }}{% if k > 0 %}{{ rec(k - 1) }}{% endif %}{% endmacro %}{{ rec(5) }}",
    # expressions
    "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ 2.0 }} {{ 'ab' * 3 }} {{ [1] * 2 }} {{ [1, 2] + [3] }} {{ 'x' + 'y' }}",
    "{{ n > 5 and f < 3 }} {{ n == 7.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ not n }} {{ n != 7 }} {{ 1 >= 1 }} {{ 2 <= 1 }}",
    "{{ 'x' if flag else 'y' }} {{ 'x' if not flag else 'y' }} [{{ 'z' if false }}]",
    "{{ none or 'default' }} {{ 0 and 'never' }} {{ 'a' and 'b' }} {{ '' or [] }}",
    "{{ 'ell' in s }} {{ 'zz' not in s }} {{ 2 in nums }} {{ 'a' in d }} {{ 'q' in d }} {{ not 'a' in words }}",
    "{{ -n }} {{ +f }} {{ -f }} {{ 10 - 2 - 3 }} {{ 2 ** 3 ** 2 }}",
    "{{ n }} {{ f }} {{ big }} {{ small }} {{ 1.0 }} {{ 100.0 / 3 }} {{ 1e16 }} {{ 0.0001 }} {{ 0.00001 }} {{ 123456789.125 }}",
    "{{ d }} {{ words }} {{ none }} {{ flag }} {{ [none, true, 'it\\'s', \"q\\\"\"] }} {{ u }}",
    "{{ {'k': [1, (2, 3)], 'e': {}} }} {{ () }} {{ (1,) }}",
    "{{ 'abc'[0] }}{{ 'abc'[-1] }} {{ words[1:] }} {{ words[:2] }} {{ words[::-1] }} {{ words[-2:] }} {{ words[1:3:1] }} {{ u[1:4] }} {{ 'hello'[::-2] }} {{ nums[10:] }} {{ nums[::9223372036854775807] }} {{ nums[::-9223372036854775807] }} {{ nums[-9223372036854775807:9223372036854775807] }}",
    "{{ d.nested.x[1] }} {{ d['nested']['x'][-1] }} {{ d.missing is defined }} {{ d['items'] }} {{ messages[0].role }} {{ messages.0.role }}",
    "{{ 'adjacent' 'strings' }} {{ \"esc\\taped\\n\\u00e9\\x41\" }}",
    # undefined vs none
    "{{ missing }}|{{ missing is defined }}|{{ missing is undefined }}|{{ missing is none }}|{{ none is none }}|{{ none is defined }}|{{ missing | default('dflt') }}|{{ none | default('dflt') }}|{{ none | default('dflt', true) }}|{{ '' | d('e', true) }}",
    "{{ missing | length }} {{ missing | list }} {{ missing is iterable }} {% for x in missing %}x{% endfor %} {{ missing == missing }} {{ (missing ~ 'x') }}",
    "{{ d.nope.deeper }}",
    "{{ missing.attr }}",
    "{{ missing + 1 }}",
    "{{ none.attr }}|{{ n.attr }}|{{ s.nope }}",
    # tests
    "{{ s is string }} {{ n is number }} {{ f is number }} {{ flag is number }} {{ n is integer }} {{ f is float }} {{ flag is boolean }} {{ d is mapping }} {{ words is sequence }} {{ s is iterable }} {{ n is iterable }} {{ d is iterable }} {{ words is mapping }}",
    "{{ n is odd }} {{ n is even }} {{ 9 is divisibleby 3 }} {{ n is divisibleby(2) }} {{ n is equalto 7 }} {{ n is eq 7 }} {{ n is ne 7 }} {{ 'a' is in 'abc' }} {{ none is sameas none }} {{ flag is true }} {{ flag is false }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ n is gt 3 }} {{ n is lt 3 }} {{ n is ge 7 }} {{ n is le 6 }}",
    "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(' | ') }}",
    "{{ messages | rejectattr('role', 'eq', 'user') | list | length }} {{ messages | selectattr('role') | list | length }} {{ nums | select('odd') | list }} {{ nums | reject('odd') | list }} {{ [0, 1, '', 'a', none] | select | list }}",
    "{{ tools | map(attribute='function.name') | list }} {{ tools | map(attribute='nope', default='x') | list }} {{ words | map('upper') | join }}",
    # filters
    "[{{ s | trim }}] [{{ s | upper }}] [{{ s | lower }}] [{{ s | title }}] [{{ s | capitalize }}] [{{ s | length }}] [{{ u | length }}] [{{ 'x-y z(a b' | title }}] [{{ \"they're bill's\" | title }}]",
    "{{ s | replace('l', 'L') }} {{ s | replace('l', 'L', 2) }} {{ 'abc' | replace('', '-') }} {{ s | trim('  H') }} {{ '--x--' | trim('-') }}",
    "{{ words | join(', ') }} {{ nums | join }} {{ messages | join(';', attribute='role') }} {{ words | first }} {{ words | last }} {{ [] | first }}|{{ 'abc' | first }} {{ words | length }} {{ d | length }} {{ words | count }}",
    "{{ d | items | list }} {{ d | list }} {{ 'ab' | list }} {{ words | reverse | list }} {{ 'abc' | reverse }} {{ words | sort }} {{ words | sort(reverse=true) }} {{ words | sort(case_sensitive=true) }} {{ messages | sort(attribute='role') | map(attribute='role') | list }}",
    "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(5) }} {{ 3.9 | int }} {{ flag | int }} {{ '2.5' | float }} {{ n | float }} {{ 'q' | float }} {{ neg | abs }} {{ -2.5 | abs }} {{ n | string }} {{ none | string }} {{ words | string }}",
    "{{ '<a href=\"x\">&\\'</a>' | e }} {{ '<b>' | safe }} {{ '<b>' | escape }}",
    "{{ d | tojson }} {{ d | tojson(indent=2) }} {{ d | tojson(sort_keys=true) }} {{ d | tojson(indent=4, sort_keys=true) }} {{ u | tojson }} {{ 'a\"b\\\\c\\n\\t\\x01\\x7f' | tojson }} {{ [] | tojson(indent=2) }} {{ {} | tojson }} {{ none | tojson }} {{ f | tojson }} {{ big | tojson }} {{ small | tojson }} {{ [1, [2, {'a': []}]] | tojson(indent=1) }}",
    "{{ tools | tojson }}",
    "{{ 'line1\\nline2\\n\\nline4' | indent(2) }}|{{ 'a\\nb' | indent(4, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}",
    # generators: select/map results are lazy in jinja2 (truthy, no len(), not JSON)
    "{{ 'yes' if messages | selectattr('role', 'eq', 'nobody') else 'no' }} {{ none | selectattr('x') | list }} {{ none | map(attribute='x') | list }} {{ messages | map(attribute='role') | first }} {{ messages | map(attribute='role') | join(',') }} {{ nums | select('odd') | reverse | list }} {{ messages | selectattr('role') | list | length }}",
    "{{ messages | selectattr('role') | length }}",
    "{{ messages | map(attribute='role') | tojson }}",
    "{{ messages | map(attribute='role') | last }}",
    "{{ d | dictsort }} {{ d | dictsort(reverse=true) }} {{ {'b': 1, 'A': 2, 'a': 3} | dictsort }} {{ {'b': 1, 'A': 2, 'a': 3} | dictsort(true) }} {{ {'x': 2, 'y': 1} | dictsort(by='value') }}",
    "{{ u | tojson(ensure_ascii=true) }} {{ '🚀 é' | tojson(ensure_ascii=true) }} {{ {'k': ['日本']} | tojson(ensure_ascii=true, indent=1) }}",
    # markupsafe: |safe and |escape give Markup; Markup + str escapes the str
    "{{ '<i>'|safe + '<b>' + '&' }} {{ '<x>' + '<i>'|safe }} {{ ('<i>'|safe) * 2 }} {{ '<i>'|safe ~ '<b>' }} {{ '<' | e | e }} {{ ('<i>'|safe + d | tojson) }}",
    # string methods
    "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.strip(' Hd') }}|{{ s.upper() }}|{{ s.lower() }}|{{ s.title() }}|{{ s.capitalize() }}|{{ \"they're\".title() }}",
    "{{ s.startswith('  He') }} {{ s.endswith('o  ') }} {{ s.startswith(('x', '  ')) }} {{ 'a,b,,c'.split(',') }} {{ ' a  b c '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ ' a b '.split(none, 1) }} {{ ' a b '.rsplit(none, 1) }} {{ ' a  b  c '.split(none, 1) }}",
    "{{ s.replace('l', '_') }} {{ s.find('World') }} {{ s.find('zz') }} {{ s.count('l') }} {{ '-'.join(words) }} {{ '42'.isdigit() }} {{ 'ab'.isalpha() }}",
    "{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}",
    "{{ messages[0].content.split(' ')[-1] }} {{ messages[-1]['content'][:3] }} {{ (messages | last).role }}",
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% else %}{% set loop_messages = messages %}{% endif %}{{ loop_messages | length }}",
    # globals
    "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %H:%M:%S %A %B') }}",
    "{{ range(5) | list }} {{ range(2, 5) | list }} {{ dict(a=1, b='x') }} {{ namespace(a=1).a }}",
    "{{ raise_exception('custom failure') }}",
    "{% if messages | length > 1 %}{{ raise_exception('Only one message allowed, got ' ~ messages | length) }}{% endif %}",
    # errors that both must report
    "{{ 1 / 0 }}",
    "{{ 1 // 0 }}",
    "{{ 'a' + 1 }}",
    "{{ 1 < 'a' }}",
    "{{ n | nosuchfilter }}",
    "{{ n is nosuchtest }}",
    "{% for %}",
    "{% if true %}unclosed",
    "{{ unclosed",
    "{% endif %}",
    "{{ 'a' 'b }}",
    "{{ undefined_fn() }}",
    "{{ s.nosuchmethod() }}",
    "{% set ns = namespace() %}{% set d.x = 1 %}",
    "{{ (1, 2)[5] }}|{{ words[10] }}|{{ d['zz'] }}",
]


# hearth.v1 GenerateRequests in proto3 JSON; chat fields as inference.proto documents them.
API_TEMPLATES = ["llama3.1", "qwen2.5", "qwen3"]
TOOL_CALL_OBJECT_ARGS = json.dumps(TOOL_CALL)
TOOL_CALL_STRING_ARGS = json.dumps({
    "id": "call67890", "type": "function",
    "function": {"name": "search", "arguments": "{\"query\": \"Paris news\"}"}})
NESTED_TOOL = json.dumps({
    "type": "function",
    "function": {
        "name": "book_train",
        "description": "Réserve un train — Zürich → Genève 🚆",
        "parameters": {"type": "object", "required": ["from", "to"], "properties": {
            "to": {"type": "string"}, "from": {"type": "string"},
            "options": {"type": "object", "properties": {
                "class": {"type": "integer", "enum": [1, 2]}, "price_max": {"type": "number"},
                "flexible": {"type": "boolean", "default": False}, "note": {"default": None}}}}},
    }}, ensure_ascii=False)
API_CASES = [
    ("tools_and_named_user", {"chat": {
        "messages": [{"role": "system", "content": "You are a concise assistant."},
                     {"role": "user", "content": "Weather in Paris?", "name": "alice"}],
        "toolsJson": [json.dumps(t) for t in TOOLS]}}),
    ("tool_call_content_unset", {"chat": {
        "messages": [{"role": "user", "content": "Weather in Paris?"},
                     {"role": "assistant", "toolCallsJson": [TOOL_CALL_OBJECT_ARGS]},
                     {"role": "tool", "toolCallId": "call12345", "name": "get_weather",
                      "content": "{\"temperature\": 22}"}],
        "toolsJson": [json.dumps(t) for t in TOOLS]}}),
    ("tool_call_string_arguments_empty_content", {"chat": {
        "messages": [{"role": "user", "content": "News?"},
                     {"role": "assistant", "content": "",
                      "toolCallsJson": [TOOL_CALL_STRING_ARGS]},
                     {"role": "tool", "toolCallId": "call67890", "content": "No news."}],
        "toolsJson": [json.dumps(TOOLS[1])]}}),
    ("two_tool_calls_no_generation_prompt", {"chat": {
        "messages": [{"role": "user", "content": "Weather and news?"},
                     {"role": "assistant", "toolCallsJson": [TOOL_CALL_OBJECT_ARGS,
                                                              TOOL_CALL_STRING_ARGS]},
                     {"role": "tool", "toolCallId": "call12345", "content": "22"},
                     {"role": "tool", "toolCallId": "call67890", "content": "None."}],
        "toolsJson": [json.dumps(t) for t in TOOLS], "addGenerationPrompt": False}}),
    ("unicode_nested_tool_schema", {"chat": {
        "messages": [{"role": "user", "content": "Un billet pour Genève, s'il vous plaît."}],
        "toolsJson": [NESTED_TOOL]}}),
    ("no_tools_name_only", {"chat": {
        "messages": [{"role": "user", "content": "Hi", "name": "bob"},
                     {"role": "assistant", "content": "Hello!", "name": ""},
                     {"role": "user", "content": "Bye"}]}}),
]


def api_request_context(request, bos, eos):
    """The template variables the server derives from a GenerateRequest's chat fields."""
    chat = request["chat"]
    messages = []
    for m in chat["messages"]:
        calls = [json.loads(c) for c in m.get("toolCallsJson", [])]
        message = {"role": m["role"]}
        message["content"] = m["content"] if "content" in m else (None if calls else "")
        if calls:
            message["tool_calls"] = calls
        if m.get("toolCallId"):
            message["tool_call_id"] = m["toolCallId"]
        if m.get("name"):
            message["name"] = m["name"]
        messages.append(message)
    tools = [json.loads(t) for t in chat.get("toolsJson", [])] or None
    return {"messages": messages, "tools": tools, "documents": None,
            "add_generation_prompt": chat.get("addGenerationPrompt", True),
            "bos_token": bos, "eos_token": eos}


def api_golden(env):
    cases = []
    for name in API_TEMPLATES:
        template = env.from_string((TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8"))
        bos, eos = SPECIAL_TOKENS[name]
        for case_name, request in API_CASES:
            case = {"name": f"{name}/{case_name}", "template": f"{name}.jinja",
                    "bos_token": bos, "eos_token": eos, "request": request}
            try:
                case["output"] = template.render(**api_request_context(request, bos, eos))
            except Exception as e:
                case["error"] = f"{type(e).__name__}: {e}"
            cases.append(case)
    return {"now": int(NOW.timestamp()),
            "generator": f"scripts/gen_chat_template_golden.py, jinja2 {jinja2.__version__}",
            "cases": cases}


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


def gguf_template(path):
    """(chat template, bos text, eos text) of a GGUF, read with the gguf package."""
    import gguf
    reader = gguf.GGUFReader(path)

    def field(key):
        f = reader.fields.get(key)
        if f is None:
            sys.exit(f"{path}: no {key}")
        return f

    def string(f, i):
        return bytes(f.parts[i]).decode("utf-8")

    source = string(field("tokenizer.chat_template"), -1)
    tokens = field("tokenizer.ggml.tokens")
    bos = int(field("tokenizer.ggml.bos_token_id").parts[-1][0])
    eos = int(field("tokenizer.ggml.eos_token_id").parts[-1][0])
    return source, string(tokens, tokens.data[bos]), string(tokens, tokens.data[eos])


def golden_for(env, name, source, tokens=None):
    """Cases name a shared context (stored once under "contexts") plus add_generation_prompt."""
    template = env.from_string(source)
    bos, eos = tokens or SPECIAL_TOKENS[name]
    contexts = {}
    cases = []
    for conv_name, messages, extra in CONVERSATIONS:
        contexts[conv_name] = build_context(messages, extra, False, bos, eos)
        for add_generation_prompt in (False, True):
            context = build_context(messages, extra, add_generation_prompt, bos, eos)
            case = {"name": f"{conv_name}/{'gen' if add_generation_prompt else 'nogen'}",
                    "context": conv_name, "add_generation_prompt": add_generation_prompt}
            try:
                case["output"] = template.render(**json.loads(json.dumps(context)))
            except Exception as e:  # the C++ renderer must fail too
                case["error"] = f"{type(e).__name__}: {e}"
            cases.append(case)
    return {
        "template": f"{name}.jinja",
        "now": int(NOW.timestamp()),
        "generator": f"scripts/gen_chat_template_golden.py, jinja2 {jinja2.__version__}",
        "contexts": contexts,
        "cases": cases,
    }


def feature_golden(env):
    cases = []
    for i, source in enumerate(FEATURES):
        case = {"name": f"feature_{i:03d}", "template": source, "context": "features"}
        try:
            case["output"] = env.from_string(source).render(**json.loads(json.dumps(FEATURE_CONTEXT)))
        except Exception as e:
            case["error"] = f"{type(e).__name__}: {e}"
        cases.append(case)
    return {"now": int(NOW.timestamp()),
            "generator": f"scripts/gen_chat_template_golden.py, jinja2 {jinja2.__version__}",
            "contexts": {"features": FEATURE_CONTEXT},
            "cases": cases}


def write(out, golden, check, stale):
    text = json.dumps(golden, ensure_ascii=False, indent=1) + "\n"
    if check:
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            stale.append(out)
    else:
        out.write_text(text, encoding="utf-8")


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
        errors = sum("error" in c for c in golden["cases"])
        print(f"{name}: {len(golden['cases'])} cases, {errors} raise")
        write(GOLDEN / f"{name}.json", golden, args.check, stale)
    (GOLDEN / "gguf").mkdir(exist_ok=True)
    for name, (where, path) in GGUFS.items():
        if not os.path.exists(path):
            sys.exit(f"{path} missing (run scripts/fetch_default_model.sh or set HEARTH_SMOLLM2_GGUF)")
        source, bos, eos = gguf_template(path)
        golden = golden_for(env, name, source, (bos, eos))
        del golden["template"]
        golden = {"gguf": where, "template_source": source, **golden}
        errors = sum("error" in c for c in golden["cases"])
        print(f"{name}: {len(golden['cases'])} cases, {errors} raise (template from {path})")
        write(GOLDEN / "gguf" / f"{name}.json", golden, args.check, stale)
    golden = feature_golden(env)
    errors = sum("error" in c for c in golden["cases"])
    print(f"features: {len(golden['cases'])} snippets, {errors} raise")
    write(GOLDEN / "_features.json", golden, args.check, stale)
    golden = api_golden(env)
    errors = sum("error" in c for c in golden["cases"])
    print(f"api requests: {len(golden['cases'])} cases, {errors} raise")
    write(GOLDEN / "_api_requests.json", golden, args.check, stale)
    if stale:
        sys.exit("stale golden files: " + ", ".join(map(str, stale)))


if __name__ == "__main__":
    main()
