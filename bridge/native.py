"""Three tiny LLVM intrinsics the native callbacks need and numba does not offer (the engine's kernel, the
JACK MIDI out).

- `voidptr(address)`: an int64 address back into a pointer, so `numba.carray` can rebuild an array
  from the address table (the python-rtmixer technique, see shared/reference/engine.md).
- `fence()`: a full memory barrier between reading the ring's tail and its rows.
- `clock_ns()`: CLOCK_MONOTONIC_RAW (Link's clock on Linux) without ctypes, so kernels stay cacheable.
"""

from __future__ import annotations

import time

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_MONOTONIC_RAW = getattr(time, "CLOCK_MONOTONIC_RAW", getattr(time, "CLOCK_MONOTONIC", 1))


@intrinsic
def voidptr(typingctx, address):  # type: ignore[no-untyped-def]
    sig = types.voidptr(address)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return sig, codegen


@intrinsic
def fence(typingctx):  # type: ignore[no-untyped-def]
    sig = types.void()

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def clock_ns(typingctx):  # type: ignore[no-untyped-def]
    sig = types.int64()

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        i64 = ir.IntType(64)
        timespec = ir.LiteralStructType([i64, i64])
        fnty = ir.FunctionType(ir.IntType(32), [ir.IntType(32), timespec.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "clock_gettime")
        ts = cgutils.alloca_once(builder, timespec)
        builder.call(fn, [ir.Constant(ir.IntType(32), _MONOTONIC_RAW), ts])
        sec = builder.load(cgutils.gep_inbounds(builder, ts, 0, 0))
        nsec = builder.load(cgutils.gep_inbounds(builder, ts, 0, 1))
        return builder.add(builder.mul(sec, ir.Constant(i64, 1_000_000_000)), nsec)

    return sig, codegen
