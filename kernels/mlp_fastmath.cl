// mlp_fastmath: expm1, log1p, erfc, sinh, cosh, atan, log, log10, erf, sin, cos, tan, asin, acos, digamma and trigamma
// from exp, sqrt, bit operations, + - * / and selects only, for the
// trainer's program. PoCL 3.1 calls its scalar expm1/log1p/erfc/log (and fma) once per element and cannot
// vectorise the activation loops that use them (per 64x64 forward layer: elu 12x, gelu 50x, softplus
// 29x, mish 40x the cost of identity), while exp and arithmetic vectorise. The host includes this file
// before the generated activation code and maps the names onto these functions there only.
// Accuracy over all floats (NaN, infinities and signed zeros as C99), measured against double libm:
//   af_fm_expm1 < 1 ulp, af_fm_log1p < 2.5 ulp, af_fm_erfc absolute error < 4e-7, relative < 7e-6;
//   af_fm_sinh, af_fm_cosh <= 4 ulp, af_fm_atan <= 3 ulp, af_fm_logf 1.6 ulp, af_fm_log10 2.3 ulp, af_fm_erf 2.1 ulp,
//   af_fm_sin, af_fm_cos 1.5 ulp, af_fm_tan 3 ulp (for |x| < 1.6e6; see af_fm_trig_reduce), af_fm_asin, af_fm_acos 3 ulp,
//   af_fm_digamma, af_fm_trigamma relative 2e-6 (absolute near their roots) (TrainerFastMathTests).

// Every function here is forced inline: PoCL's inliner keeps a call to a function it finds too costly (erf,
// with erfc inside, measured 290 against a threshold of 225), and a call in a loop keeps the loop scalar
// (erf and sinh ran 15-20x slower than their inlined forms).
#define AF_FM inline __attribute__((always_inline))

// expm1: below |x| = 1/2 the Taylor series to x^10/10! (truncation < 1e-9 relative), else exp(x) - 1,
// whose cancellation costs at most a factor e^x / (e^x - 1) < 2.6 on exp's own rounding.
AF_FM float af_fm_expm1(float x) {
    float p = 1.0f / 3628800.0f;
    p = p * x + 1.0f / 362880.0f;
    p = p * x + 1.0f / 40320.0f;
    p = p * x + 1.0f / 5040.0f;
    p = p * x + 1.0f / 720.0f;
    p = p * x + 1.0f / 120.0f;
    p = p * x + 1.0f / 24.0f;
    p = p * x + 1.0f / 6.0f;
    p = p * x + 0.5f;
    const float small = x + x * (x * p);
    return fabs(x) < 0.5f ? (x == 0.0f ? x : small) : exp(x) - 1.0f;
}

// log of a positive normal float (or +inf, 0, negatives, NaN as log): u = m 2^e with m in [sqrt(1/2),
// sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.1716, series to s^11 (truncation < 4e-11);
// e ln 2 in two parts (ln2_hi has 16 bits, so e * ln2_hi is exact for |e| < 256).
AF_FM float af_fm_log(float u) {
    const int bits = as_int(u);
    int e = ((bits >> 23) & 0xff) - 127;
    float m = as_float((bits & 0x007fffff) | 0x3f800000);
    const bool high = m > 1.41421356f;
    m = high ? 0.5f * m : m;
    e = high ? e + 1 : e;
    const float f = m - 1.0f;
    const float s = f / (2.0f + f);
    const float s2 = s * s;
    float r = 2.0f / 11.0f;
    r = r * s2 + 2.0f / 9.0f;
    r = r * s2 + 2.0f / 7.0f;
    r = r * s2 + 2.0f / 5.0f;
    r = r * s2 + 2.0f / 3.0f;
    const float logm = 2.0f * s + s * (s2 * r);
    const float fe = (float)e;
    const float v = fe * 0.693145751953125f + (logm + fe * 1.428606765330187e-06f);
    return u > 0.0f ? (u == INFINITY ? u : v) : (u == 0.0f ? -INFINITY : NAN);
}

// log1p(x) = log(u) + (x - (u - 1)) / u with u = 1 + x rounded: the second term restores what the
// rounding of u lost (u - 1 is exact here); it is NaN only where u is 0 or inf, and dropped there.
AF_FM float af_fm_log1p(float x) {
    const float u = 1.0f + x;
    const float correction = (x - (u - 1.0f)) / u;
    const float v = af_fm_log(u) + select(0.0f, correction, isfinite(correction));
    return select(v, x, u == 1.0f);
}

// erfc(|x|) = t exp(-x^2 + P(t)), t = 1 / (1 + |x|/2), P a degree-9 fit (Numerical Recipes' erfcc,
// fractional error < 1.2e-7 for every x); erfc(-x) = 2 - erfc(x). x^2 is split exactly as zh^2 + zl (z + zh)
// with zh = z cut to 12 bits, so the exponent's only rounding is its final sum: relative error in the
// tail about x^2 2^-24 (< 7e-6 where erfc is a normal float; the absolute error stays < 4e-7). Carrying
// that rounding too (a second exp, or a two-sum correction) is more exact but PoCL then stops
// vectorising GELU's derivative loop (8x slower), so this is the trade made.
AF_FM float af_fm_erfc(float x) {
    const float z = fabs(x);
    const float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    // Beyond 10.5 erfc underflows to 0 in float: clamping there gives exp(-110) = 0 (and no inf - inf).
    // PoCL stops vectorising the caller's loop at a `?:` whose arms or condition hold more than plain
    // arithmetic (a branch around the formula, isfinite/isnan as the condition): the clamp and select()
    // keep this straight-line.
    const float zc = fmin(z, 10.5f);
    const float zh = as_float(as_int(zc) & (int)0xfffff000);
    const float zl = zc - zh;
    float r = t * exp((p - zl * (zc + zh)) - zh * zh);
    r = select(r, x, isnan(x));
    return x >= 0.0f ? r : 2.0f - r;
}

// sinh and cosh from one exp: h = e^|x| / 2 as (e/2) e with e = exp(|x|/2) (exact halving; finite up to
// where h itself overflows, past e^|x|'s own overflow at 88.7), sinh = h - 1/(4h), cosh = h + 1/(4h); sinh
// below |x| = 1/2 from its series, where h - 1/(4h) would cancel.
// Straight-line, so the loops vectorise (PoCL's sinh/cosh are scalar calls per element).
AF_FM float af_fm_half_exp(float a) {
    const float e = exp(0.5f * a);
    return (0.5f * e) * e;
}
AF_FM float af_fm_sinh(float x) {
    const float a = fabs(x);
    const float h = af_fm_half_exp(a);
    // sinh's own odd series to a^11/11! (truncation < 1e-13 relative below 1/2): one exp in all, where
    // (expm1(a) - expm1(-a)) / 2 took three (each expm1 computes its exp branch too).
    const float z = a * a;
    float p = 1.0f / 39916800.0f;
    p = p * z + 1.0f / 362880.0f;
    p = p * z + 1.0f / 5040.0f;
    p = p * z + 1.0f / 120.0f;
    p = p * z + 1.0f / 6.0f;
    const float small = a + a * (z * p);
    const float r = a < 0.5f ? small : h - 0.25f / h;
    return copysign(r, x);
}
AF_FM float af_fm_cosh(float x) {
    const float h = af_fm_half_exp(fabs(x));
    return h + 0.25f / h;
}

// atan: |x| > tan(3pi/8) -> pi/2 - atan(1/|x|); |x| > tan(pi/8) -> pi/4 + atan((|x|-1)/(|x|+1)); then an odd
// polynomial z + z^3 P(z^2) on |z| <= tan(pi/8) (Cephes' single-precision minimax coefficients). NaN
// propagates through the arithmetic; +-inf give +-pi/2.
AF_FM float af_fm_atan(float x) {
    const float a = fabs(x);
    const bool big = a > 2.414213562373095f, mid = a > 0.414213562373095f;
    const float z = big ? -1.0f / a : (mid ? (a - 1.0f) / (a + 1.0f) : a);
    const float base = big ? 1.570796326794897f : (mid ? 0.785398163397448f : 0.0f);
    const float z2 = z * z;
    float p = 8.05374449538e-2f;
    p = p * z2 - 1.38776856032e-1f;
    p = p * z2 + 1.99777106478e-1f;
    p = p * z2 - 3.33329491539e-1f;
    return copysign(base + (z + z * (z2 * p)), x);
}

// log and log10 of any float: af_fm_log with subnormals scaled into the normal range first (exact: a power
// of two), log10 as log times 1/ln 10 (one more rounding). PoCL's log and log10 are scalar calls.
AF_FM float af_fm_logf(float u) {
    const bool sub = u > 0.0f && u < 0x1p-126f;
    const float v = af_fm_log(sub ? u * 0x1p24f : u);
    return sub ? v - 16.63553233343869f : v;
}
AF_FM float af_fm_log10(float u) { return af_fm_logf(u) * 0.4342944819032518f; }

// erf: below |x| = 1/2 its Maclaurin series to x^13 (truncation < 1e-9 relative), x (2/sqrt(pi)) (1 - x^2/3
// + x^4/10 - ...); above, 1 - erfc(|x|) with erfc's straight-line form (absolute error < 4e-7 there, where
// erf > 0.52). Straight-line, so the loops vectorise (PoCL's erf is a scalar call).
AF_FM float af_fm_erf(float x) {
    const float z = x * x;
    float p = 1.2055332981789664e-4f;
    p = p * z - 8.548327023450852e-4f;
    p = p * z + 5.223977625442188e-3f;
    p = p * z - 2.6866170645131252e-2f;
    p = p * z + 1.1283791670955126e-1f;
    p = p * z - 3.7612638903183754e-1f;
    p = p * z + 1.1283791670955126f;
    const float small = x * p;
    const float big = copysign(1.0f - af_fm_erfc(fabs(x)), x);
    return fabs(x) < 0.5f ? small : big;
}

// sin, cos and tan: x = k pi/2 + r with |r| <= pi/4 (a little more, see below), then Cephes' single-precision minimax polynomials for
// sin and cos on r, picked and signed by the quadrant k mod 4 with selects (PoCL's sin, cos and tan are scalar
// calls with a branchy argument reduction: 20-40x an exp). The reduction runs in double where the device has
// it (pi/2 in three parts of 33, 33 and 53 bits: k * part is exact for |k| < 2^20, so r is exact to double
// rounding for |x| < 1.6e6, and off by at most |x| 2^-53 beyond); without fp64, in float with pi/2 in three
// parts of 8, 12 and 24 bits (exact products for |x| < 2^15, degrading as |x| 2^-24 beyond). sin and tan return
// +-0 as given (the reduction's x - 0 k turns -0 into +0).
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
AF_FM float af_fm_trig_reduce(float x, int* quadrant) {
    // k and the quadrant in float (exact: k is an integer float, k mod 4 by floor); only r in double.
    // Rounding x 2/pi in float can pick the neighbouring k where x is near an odd multiple of pi/4: r
    // then reaches a little past pi/4 (under 0.89 for |x| < 1.6e6), where the polynomials stay within
    // their bounds (TrainerFastMathTests samples those points). k's double rint, floor and conversions,
    // which PoCL vectorises poorly, had made sin, cos and tan 2x slower (`bench activations`).
    const float k = rint(x * 0.636619772367581343f);
    *quadrant = (int)(k - 4.0f * floor(0.25f * k));
#if defined(cl_khr_fp64) && !defined(AF_FM_FLOAT_REDUCTION)
    const double kd = (double)k;
    const double r = (((double)x - kd * 1.57079632673412561417) - kd * 6.07710050630396597660e-11) - kd * 2.02226624871116645580e-21;
    return (float)r;
#else
    return ((x - k * 1.5703125f) - k * 4.837512969970703125e-4f) - k * 7.549789954891882e-8f;
#endif
}
// sin r and cos r on |r| <= pi/4 (Cephes sinf/cosf coefficients; sin and cos of x within 2 ulp).
AF_FM float af_fm_sin_r(float r) {
    const float z = r * r;
    float p = -1.9515295891e-4f;
    p = p * z + 8.3321608736e-3f;
    p = p * z - 1.6666654611e-1f;
    return r + r * (z * p);
}
AF_FM float af_fm_cos_r(float r) {
    const float z = r * r;
    float p = 2.443315711809948e-5f;
    p = p * z - 1.388731625493765e-3f;
    p = p * z + 4.166664568298827e-2f;
    return (1.0f - 0.5f * z) + z * (z * p);
}
AF_FM float af_fm_sin(float x) {
    int q;
    const float r = af_fm_trig_reduce(x, &q);
    const float s = af_fm_sin_r(r), c = af_fm_cos_r(r);
    const float v = (q & 1) ? c : s;
    const float signed_v = (q & 2) ? -v : v;
    return x == 0.0f ? x : signed_v;
}
AF_FM float af_fm_cos(float x) {
    int q;
    const float r = af_fm_trig_reduce(x, &q);
    const float s = af_fm_sin_r(r), c = af_fm_cos_r(r);
    const float v = (q & 1) ? s : c;
    return ((q + 1) & 2) ? -v : v;
}
AF_FM float af_fm_tan(float x) {
    int q;
    const float r = af_fm_trig_reduce(x, &q);
    const float s = af_fm_sin_r(r), c = af_fm_cos_r(r);
    // tan = s / c in even quadrants, -c / s in odd ones.
    const float num = (q & 1) ? -c : s, den = (q & 1) ? s : c;
    return x == 0.0f ? x : num / den;
}

// asin and acos (Cephes asinf's polynomial, < 3 ulp): |x| <= 1/2: asin x = x + x z P(z), z = x^2; above,
// asin |x| = pi/2 - 2 asin(s), s = sqrt((1 - |x|) / 2), and acos from the same two pieces. |x| > 1 gives NaN
// through the square root.
AF_FM float af_fm_asin_p(float z) {
    float p = 4.2163199048e-2f;
    p = p * z + 2.4181311049e-2f;
    p = p * z + 4.5470025998e-2f;
    p = p * z + 7.4953002686e-2f;
    p = p * z + 1.6666752422e-1f;
    return z * p;
}
// asin of the reduced argument: sqrt((1 - a) / 2) above a = |x| = 1/2, else `u` (x or |x|, as the caller needs).
AF_FM float af_fm_asin_reduced(float a, float u) {
    const bool big = a > 0.5f;
    const float z = big ? 0.5f * (1.0f - a) : a * a;
    const float v = big ? sqrt(z) : u;
    return v + v * af_fm_asin_p(z);
}
AF_FM float af_fm_asin(float x) {
    const float a = fabs(x);
    const float t = af_fm_asin_reduced(a, a);
    return copysign(a > 0.5f ? 1.5707963267948966f - 2.0f * t : t, x);
}
AF_FM float af_fm_acos(float x) {
    // |x| <= 1/2: pi/2 - asin x; x > 1/2: 2 asin s; x < -1/2: pi - 2 asin s.
    const float a = fabs(x);
    const float t = af_fm_asin_reduced(a, x);
    const float r = a > 0.5f ? 2.0f * t : 1.5707963267948966f - t;
    return (a > 0.5f && x < 0.0f) ? 3.1415926535897932f - r : r;
}

// digamma and trigamma, straight-line: for y > 0 six steps of the recurrence, psi(y) = psi(y + 6) -
// sum 1/(y + i), then the asymptotic series at w = y + 6 >= 6 (truncation < 1e-10); below 0 the reflection
// psi(x) = psi(1 - x) - pi / tan(pi x), psi_1(x) = pi^2 / sin^2(pi x) - psi_1(1 - x). The forms they replace
// ran their recurrence up to 10 in a data-dependent loop, which kept every loop over them scalar.
// Divisions are most of their cost (a vector division takes several times an FMA's time): the recurrence's
// terms are added in pairs, 1/a + 1/b = (a + b) / (a b) and 1/a^2 + 1/b^2 = (a^2 + b^2) / (a b)^2, with y
// capped where the products would overflow (there the sum is far below the result's last bit), and one
// reciprocal of w serves the series.
AF_FM float af_fm_recip_pair(float a, float b) { return (a + b) / (a * b); }
AF_FM float af_fm_recip_square_pair(float a, float b) {
    const float p = a * b;
    return (a * a + b * b) / (p * p);
}
AF_FM float af_fm_digamma(float x) {
    const bool neg = x < 0.0f;
    const float y = neg ? 1.0f - x : x;
    const float yc = fmin(y, 1e18f);
    const float acc = af_fm_recip_pair(yc, yc + 1.0f) + af_fm_recip_pair(yc + 2.0f, yc + 3.0f) + af_fm_recip_pair(yc + 4.0f, yc + 5.0f);
    const float w = y + 6.0f;
    const float iw = 1.0f / w;
    const float z = iw * iw;
    const float series = z * (1.0f / 12.0f - z * (1.0f / 120.0f - z * (1.0f / 252.0f - z * (1.0f / 240.0f - z * (1.0f / 132.0f)))));
    const float v = af_fm_logf(w) - 0.5f * iw - series - acc;
    // pi / tan(pi x) with g = x - rint(x) in [-1/2, 1/2] (exact: the reflection's period is 1), and h = g - q/2
    // in [-1/4, 1/4] (exact) for q = rint(2g): tan(pi g) = tan(pi h) for q = 0, -cot(pi h) otherwise, so
    // pi / tan(pi g) is pi cos / sin or -pi sin / cos at r = pi h, with no argument reduction.
    const float g = x - rint(x);
    const float q = rint(2.0f * g);
    const float r = 3.1415926535897932f * (g - 0.5f * q);
    const float sr = af_fm_sin_r(r), cr = af_fm_cos_r(r);
    const float cot = q == 0.0f ? 3.1415926535897932f * cr / sr : -3.1415926535897932f * sr / cr;
    const float reflected = v - cot;
    const float res = neg ? reflected : v;
    // Poles: psi(+-0) = -+inf, NaN at the negative integers (and at -inf).
    const float zero = x == 0.0f ? (signbit(x) ? INFINITY : -INFINITY) : res;
    return (neg && g == 0.0f) ? NAN : zero;
}
AF_FM float af_fm_trigamma(float x) {
    const bool neg = x < 0.5f;
    const float y = neg ? 1.0f - x : x;
    const float yc = fmin(y, 1e9f);
    const float acc = af_fm_recip_square_pair(yc, yc + 1.0f) + af_fm_recip_square_pair(yc + 2.0f, yc + 3.0f)
        + af_fm_recip_square_pair(yc + 4.0f, yc + 5.0f);
    const float w = y + 6.0f;
    const float iw = 1.0f / w;
    const float z = iw * iw;
    const float series = (1.0f + z * (1.0f / 6.0f - z * (1.0f / 30.0f - z * (1.0f / 42.0f - z * (1.0f / 30.0f))))) * iw + 0.5f * z;
    const float v = acc + series;
    // sin of the float product pi x, as PyTorch forms it (its huge finite values at the poles).
    const float s = af_fm_sin(3.1415926535897932f * x);
    const float r = neg ? 9.869604401089358f / (s * s) - v : v;
    return x == INFINITY ? 0.0f : (x == -INFINITY ? NAN : r);
}
