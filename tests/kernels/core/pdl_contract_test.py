#!/usr/bin/env python3
"""Checks the launch contract of kernels/core/pdl.h over the sources of kernels/:

- no kernel is launched with <<<>>> (every launch goes through cuda::LaunchKernel, which makes
  it a programmatic dependent of the stream's previous kernel);
- every __global__ function's body calls cuda::PdlBegin(), or both cuda::PdlLaunchDependents()
  and cuda::PdlWait() (then the wait comes after the launch trigger in the text);
- no `return` comes before the first wait in the text unless a PdlWait() precedes it in its own
  branch (no thread exits before its predecessors are done).

Usage: pdl_contract_test.py KERNELS_DIR
"""
import pathlib
import re
import sys


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def kernel_bodies(text):
    """(name, body) of every __global__ function defined (not only declared) in text."""
    for m in re.finditer(r"__global__", text):
        i = m.end()
        while i < len(text) and text[i] not in "{;":
            i += 1
        if i >= len(text) or text[i] == ";":
            continue
        head = text[m.end():i]
        names = re.findall(r"(\w+)\s*\(", head)
        name = [n for n in names if n != "__launch_bounds__"]
        depth, j = 0, i
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        yield (name[0] if name else "?"), text[i:j + 1]


def check(root):
    problems = []
    sources = sorted(p for p in root.rglob("*") if p.suffix in (".cu", ".cuh"))
    for path in sources:
        text = strip_comments(path.read_text())
        rel = path.relative_to(root.parent)
        if "<<<" in text:
            problems.append(f"{rel}: launches with <<<>>>; use cuda::LaunchKernel (core/pdl.h)")
        for name, body in kernel_bodies(text):
            if "PdlBegin()" in body:
                wait = body.find("PdlBegin()")
            else:
                trigger, wait = body.find("PdlLaunchDependents()"), body.find("PdlWait()")
                if trigger < 0 or wait < 0 or wait < trigger:
                    problems.append(f"{rel}: kernel {name} does not keep the contract of "
                                    "core/pdl.h (PdlBegin, or PdlLaunchDependents then PdlWait)")
                    continue
            for m in re.finditer(r"\breturn\b", body[:wait]):
                # The statement block holding this return must wait first.
                start = body.rfind("{", 0, m.start())
                if "PdlWait()" not in body[start:m.start()]:
                    problems.append(f"{rel}: kernel {name} may exit before it waits for its "
                                    "predecessors (core/pdl.h)")
    return sources, problems


def main():
    root = pathlib.Path(sys.argv[1])
    sources, problems = check(root)
    if not sources:
        print(f"no CUDA sources under {root}")
        return 1
    for p in problems:
        print(p)
    print(f"{len(sources)} files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
