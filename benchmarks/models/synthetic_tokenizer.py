"""A byte-level BPE vocabulary of any size, for random-weight models.

Why synthetic: a shape's vocabulary size is part of its cost (embedding and LM-head bytes, the
sampler's width), and the server needs a tokenizer whose ids cover exactly the model's rows.
tests/data has no Llama 3 / Qwen2.5 / Mistral vocabulary file, and the GPU machine has no
network, so the generator makes one: the 256 byte tokens (GPT-2's byte-to-unicode spelling),
then merges of every existing token with every byte in a fixed order, then BOS and EOS. Every
merge joins two tokens already in the vocabulary and every token is reachable, so it is a valid
BPE vocabulary that Hearth and the Hugging Face `tokenizers` package both load; the texts it
produces are meaningless, which a speed test does not mind (the load generator sends token ids).
"""
import json

BOS = "<|begin_of_text|>"
EOS = "<|end_of_text|>"


def byte_symbols():
    """GPT-2's reversible byte -> printable character map, as a list indexed by byte."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) +
                 list(range(ord("®"), ord("ÿ") + 1)))
    table = {}
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def build(vocab_size):
    """Returns (tokens, merges, bos_id, eos_id): tokens[id] is the token's text, merges are
    (left, right) pairs in rank order; the last two ids are BOS and EOS."""
    if vocab_size < 258:
        raise ValueError(f"vocab size {vocab_size} is below 258 (256 bytes + BOS + EOS)")
    tokens = byte_symbols()
    merges = []
    n = 0
    # tokens[i] + byte j for i = 0, 1, ... and j = 0..255: all distinct, since each new token
    # is a distinct (prefix, last byte) pair and longer than every token it could equal.
    while len(tokens) < vocab_size - 2:
        left, right = tokens[n // 256], tokens[n % 256]
        merges.append((left, right))
        tokens.append(left + right)
        n += 1
    tokens += [BOS, EOS]
    return tokens, merges, vocab_size - 2, vocab_size - 1


def tokenizer_json(vocab_size):
    """HF tokenizer.json text (ByteLevel pre-tokenizer and decoder, BOS added by the template)."""
    tokens, merges, bos, eos = build(vocab_size)
    added = [{"id": i, "content": tokens[i], "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True} for i in (bos, eos)]
    doc = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {BOS: {"id": BOS, "ids": [bos], "tokens": [BOS]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tokens[:bos])},
                  "merges": [[a, b] for a, b in merges]},
    }
    config = {"bos_token": BOS, "eos_token": EOS, "add_bos_token": True,
              "add_eos_token": False, "model_max_length": 1 << 20,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    return json.dumps(doc, ensure_ascii=False), json.dumps(config, indent=1), bos, eos


def gguf_metadata(vocab_size):
    """tokenizer.ggml.* keys of the same vocabulary (model "gpt2", GPT-2 pre-tokenizer)."""
    tokens, merges, bos, eos = build(vocab_size)
    types = [1] * len(tokens)  # 1 = normal, 3 = control
    types[bos] = types[eos] = 3
    return {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "gpt-2",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.merges": [f"{a} {b}" for a, b in merges],
        "tokenizer.ggml.bos_token_id": bos,
        "tokenizer.ggml.eos_token_id": eos,
        "tokenizer.ggml.add_bos_token": True,
    }
