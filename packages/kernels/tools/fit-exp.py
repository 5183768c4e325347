#!/usr/bin/env python3
# Fits the coefficients C1..C5 of assembly/math/exp.ts: p(r) ~ (exp(r) - 1) / r on
# [-ln2 / 2, ln2 / 2], so that 1 + r p(r) has the smallest maximum relative error against exp(r).
# Method: least squares reweighted toward the points of largest error, which converges to a
# near-minimax fit. Needs numpy. Prints each coefficient as float32 bits and decimal.
import numpy as np, struct
a = np.log(2)/2
r = np.linspace(-a, a, 200001)
r = r[r != 0]
f = np.expm1(r)/r
deg = 4
# iterative reweighted least squares toward minimax on relative error of exp
w = np.ones_like(r)
for it in range(60):
    V = np.vander(r, deg+1, increasing=True)
    W = w / np.exp(r)  # relative error weight: err_exp = r*(p - f) / exp(r)
    A = V * (np.abs(r) * W)[:, None]
    b = f * np.abs(r) * W
    c, *_ = np.linalg.lstsq(A, b, rcond=None)
    err = r*(V@c - f)/np.exp(r)
    w = w * (np.abs(err)/np.abs(err).max())**0.3 + 1e-12
    w /= w.max()
print('max rel err (float64 coeffs):', np.abs(err).max())
def f32bits(x):
    return struct.unpack('<I', struct.pack('<f', x))[0]
def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]
for i, ci in enumerate(c):
    print(f'C{i+1}: 0x{f32bits(ci):08X} {f32(ci):.9g}')
cf = np.array([f32(x) for x in c])
err = r*(np.vander(r, deg+1, increasing=True)@cf - f)/np.exp(r)
print('max rel err (f32 coeffs):', np.abs(err).max())
