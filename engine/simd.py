"""`vec4`: four float64 lanes as one LLVM vector value, for numba kernels.

Four recursive filters running side by side (left and right of two decks) are four independent
chains the CPU could run in one vector instruction, but numba does not vectorise recursions (its
loop vectoriser needs independent iterations, and it ships with SLP vectorisation off). A `vec4` is
a value, not memory, so it lives in a register across a whole loop:

    x = vec(a, b, c, d)        # four lanes
    s = splat(0.5)             # the same number in every lane
    y = x * s + z              # + - * between vec4s, or a vec4 and a float (multiply-adds fuse)
    lane(y, 2)                 # one lane back as a float
    v = vload(row, i)          # row[i : i+4] of a float64 array; vstore(row, i, v) writes it back
    vabs(v), vmax(v, y)        # lane by lane

Every lane computes exactly what the scalar code would (IEEE float64, multiply-adds contracted as
`fastmath={"contract"}` does for the scalar kernels).
"""

from __future__ import annotations

import operator

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, overload, register_model

_F64 = ir.DoubleType()
_V4 = ir.VectorType(_F64, 4)
_I32 = ir.IntType(32)
_CONTRACT = ("contract",)


class Vec4Type(types.Type):
    def __init__(self) -> None:
        super().__init__(name="vec4")


vec4 = Vec4Type()


@register_model(Vec4Type)
class _Vec4Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):  # type: ignore[no-untyped-def]
        super().__init__(dmm, fe_type, _V4)


def _float(context, builder, value, ty):  # type: ignore[no-untyped-def]
    return context.cast(builder, value, ty, types.float64)


def _splat(builder, x):  # type: ignore[no-untyped-def]
    v = builder.insert_element(ir.Constant(_V4, ir.Undefined), x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, 4), [0, 0, 0, 0]))


@intrinsic
def vec(typingctx, a, b, c, d):  # type: ignore[no-untyped-def]
    """Four lanes from four numbers."""
    if not all(isinstance(t, types.Number) for t in (a, b, c, d)):
        return None
    sig = vec4(a, b, c, d)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        v = ir.Constant(_V4, ir.Undefined)
        for i, (x, t) in enumerate(zip(args, signature.args, strict=True)):
            v = builder.insert_element(v, _float(context, builder, x, t), ir.Constant(_I32, i))
        return v

    return sig, codegen


@intrinsic
def splat(typingctx, x):  # type: ignore[no-untyped-def]
    """The same number in all four lanes."""
    if not isinstance(x, types.Number):
        return None
    sig = vec4(x)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return _splat(builder, _float(context, builder, args[0], signature.args[0]))

    return sig, codegen


@intrinsic
def lane(typingctx, v, i):  # type: ignore[no-untyped-def]
    """Lane i (0..3) as a float."""
    if not (isinstance(v, Vec4Type) and isinstance(i, types.Integer)):
        return None
    sig = types.float64(v, i)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.extract_element(args[0], builder.trunc(args[1], _I32) if args[1].type.width > 32
                                       else args[1])

    return sig, codegen


def _binary(op: str):  # type: ignore[no-untyped-def]
    def typer(typingctx, a, b):  # type: ignore[no-untyped-def]
        if not (isinstance(a, Vec4Type) and isinstance(b, Vec4Type)):
            return None
        sig = vec4(a, b)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            return getattr(builder, op)(args[0], args[1], flags=_CONTRACT)

        return sig, codegen

    return intrinsic(typer)


_vadd = _binary("fadd")
_vsub = _binary("fsub")
_vmul = _binary("fmul")


def _operator(fn, vop):  # type: ignore[no-untyped-def]
    @overload(fn)
    def impl(a, b):  # type: ignore[no-untyped-def]
        va, vb = isinstance(a, Vec4Type), isinstance(b, Vec4Type)
        if va and vb:
            return lambda a, b: vop(a, b)
        if va and isinstance(b, types.Number):
            return lambda a, b: vop(a, splat(b))
        if vb and isinstance(a, types.Number):
            return lambda a, b: vop(splat(a), b)
        return None


_operator(operator.add, _vadd)
_operator(operator.sub, _vsub)
_operator(operator.mul, _vmul)


def _pointer(context, builder, aryty, ary, index, indexty):  # type: ignore[no-untyped-def]
    """Address of ary[index] as a <4 x double>* (no bounds check: the caller owns the range)."""
    data = context.make_array(aryty)(context, builder, value=ary).data
    idx = context.cast(builder, index, indexty, types.intp)
    return builder.bitcast(builder.gep(data, [idx]), _V4.as_pointer())


def _f64_array(a) -> bool:  # type: ignore[no-untyped-def]
    return isinstance(a, types.Array) and a.dtype == types.float64 and a.layout in "CA"


@intrinsic
def vload(typingctx, ary, index):  # type: ignore[no-untyped-def]
    """ary[index : index + 4] as one vec4 (a C-contiguous float64 array)."""
    if not (_f64_array(ary) and isinstance(index, types.Integer)):
        return None
    sig = vec4(ary, index)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ptr = _pointer(context, builder, signature.args[0], args[0], args[1], signature.args[1])
        return builder.load(ptr, align=8)

    return sig, codegen


@intrinsic
def vstore(typingctx, ary, index, v):  # type: ignore[no-untyped-def]
    """ary[index : index + 4] = v."""
    if not (_f64_array(ary) and isinstance(index, types.Integer) and isinstance(v, Vec4Type)):
        return None
    sig = types.void(ary, index, v)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ptr = _pointer(context, builder, signature.args[0], args[0], args[1], signature.args[1])
        builder.store(args[2], ptr, align=8)
        return context.get_dummy_value()

    return sig, codegen


def _declare(builder, name: str, arity: int):  # type: ignore[no-untyped-def]
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V4, [_V4] * arity), f"{name}.v4f64")


def _unary_intrinsic(name: str):  # type: ignore[no-untyped-def]
    def typer(typingctx, a):  # type: ignore[no-untyped-def]
        if not isinstance(a, Vec4Type):
            return None
        sig = vec4(a)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            return builder.call(_declare(builder, name, 1), [args[0]])

        return sig, codegen

    return intrinsic(typer)


def _binary_intrinsic(name: str):  # type: ignore[no-untyped-def]
    def typer(typingctx, a, b):  # type: ignore[no-untyped-def]
        if not (isinstance(a, Vec4Type) and isinstance(b, Vec4Type)):
            return None
        sig = vec4(a, b)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            return builder.call(_declare(builder, name, 2), [args[0], args[1]])

        return sig, codegen

    return intrinsic(typer)


vabs = _unary_intrinsic("llvm.fabs")
vmax = _binary_intrinsic("llvm.maxnum")  # a NaN lane yields the other operand
