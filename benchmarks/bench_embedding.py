"""GPTEmbedding vs plain nn.Embedding + add vs a torch.compile-fused gather+add.

    python benchmarks/bench_embedding.py [--device cuda|cpu] [--repeat 20] [--no-compile] [--small]

For each shape (B, T, D, V) and dtype: checks the three forward outputs are equal (gradients to
floating-point tolerance), then times forward and forward+backward (best of --repeat, after
warm-up; CUDA timings synchronise). Reports microseconds, the effective bandwidth (bytes of ids
read + embedding rows gathered + positions + output written) and its fraction of a plain
device-to-device copy of the output measured in the same run.
"""

from __future__ import annotations

import argparse

import torch
from _common import best_of
from llmprep.nn import GPTEmbedding

SHAPES = [(8, 1024, 768, 50257), (32, 1024, 768, 50257)]
SMALL_SHAPES = [(8, 256, 256, 50257)]


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def best_time(fn, device: str, repeat: int, warmup: int = 3) -> float:
    """The shared best-of timing (llmprep.bench.timing), each call followed by a device synchronise."""

    def call() -> None:
        fn()
        sync(device)

    sync(device)
    return best_of(call, repeat, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    parser.add_argument("--small", action="store_true", help="one small shape (quick CPU check)")
    args = parser.parse_args()
    device = args.device
    print(
        f"device: {device} ({torch.cuda.get_device_name() if device == 'cuda' else 'CPU'}), torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, best of {args.repeat}"
    )

    for B, T, D, V in SMALL_SHAPES if args.small else SHAPES:
        for dtype in (torch.float32, torch.bfloat16):
            torch.manual_seed(0)
            ours = GPTEmbedding(V, D, T, device=device, dtype=dtype)
            ours_unchecked = GPTEmbedding(V, D, T, device=device, dtype=dtype, check_ids=False)
            ours_unchecked.load_state_dict(ours.state_dict())
            tok = torch.nn.Embedding(V, D, device=device, dtype=dtype)
            pos = torch.nn.Embedding(T, D, device=device, dtype=dtype)
            tok.weight.data.copy_(ours.token.weight.data)
            pos.weight.data.copy_(ours.position.weight.data)
            ids = torch.randint(0, V, (B, T), device=device)
            positions = torch.arange(T, device=device)

            def plain():
                return tok(ids) + pos(positions)

            variants = {
                "plain nn.Embedding + add": plain,
                "llmprep GPTEmbedding": lambda: ours(ids),
                "llmprep, check_ids=False": lambda: ours_unchecked(ids),
            }
            if not args.no_compile:
                fused = torch.compile(lambda i: torch.nn.functional.embedding(i, tok.weight) + pos.weight[: i.shape[1]])
                variants["torch.compile fused gather+add"] = lambda: fused(ids)

            reference = plain()
            for name, fn in variants.items():
                torch.testing.assert_close(fn(), reference, atol=0, rtol=0, msg=f"{name} forward differs")

            out_bytes = B * T * D * reference.element_size()
            moved = ids.numel() * ids.element_size() + 2 * out_bytes + T * D * reference.element_size()
            copy_src = torch.empty(out_bytes // 4, dtype=torch.float32, device=device)
            copy_dst = torch.empty_like(copy_src)
            t_copy = best_time(lambda: copy_dst.copy_(copy_src), device, args.repeat)
            copy_gbs = 2 * out_bytes / t_copy / 1e9
            print(f"\nB={B} T={T} D={D} V={V} {str(dtype).replace('torch.', '')}: copy bandwidth {copy_gbs:.1f} GB/s")
            t_plain = None
            for name, fn in variants.items():
                t_fwd = best_time(fn, device, args.repeat)

                def fwd_bwd(fn=fn):
                    for p in (
                        tok.weight,
                        pos.weight,
                        ours.token.weight,
                        ours.position.weight,
                        ours_unchecked.token.weight,
                        ours_unchecked.position.weight,
                    ):
                        p.grad = None
                    fn().sum().backward()

                t_both = best_time(fwd_bwd, device, max(3, args.repeat // 2))
                t_plain = t_plain or t_fwd
                gbs = moved / t_fwd / 1e9
                print(
                    f"  {name:<32} fwd {t_fwd * 1e6:9.1f} us  {gbs:7.1f} GB/s ({gbs / copy_gbs:5.1%} of copy)  "
                    f"fwd+bwd {t_both * 1e6:9.1f} us   fwd vs plain {t_plain / t_fwd:5.2f}x"
                )


if __name__ == "__main__":
    main()
