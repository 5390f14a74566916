//! The few vector operations the kernels need, one implementation per
//! instruction set, written with `std::arch`.
//!
//! Why not a SIMD crate: the kernels use seven operations (splat, load,
//! store, fused multiply-add, max, min, a stride-2 de-interleave), each one
//! instruction or two on every target; `std::arch` maps them one to one and
//! adds no dependency, where `pulp` or `wide` would bring a layer of their own
//! types for the same instructions. The kernels are written once, generic over
//! [`Lanes`], and each instruction set gets a `#[target_feature]` entry point
//! into which everything is inlined (the pattern `pulp` itself uses).

/// An instruction set the kernels have a path for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust, one float at a time: every target, and the reference.
    Scalar,
    /// x86-64 AVX2 with FMA: 8 floats per vector.
    Avx2,
    /// x86-64 AVX-512F: 16 floats per vector.
    Avx512,
    /// arm64 NEON (Advanced SIMD, present on every arm64 core): 4 floats.
    Neon,
}

impl Isa {
    /// The widest instruction set this CPU runs, detected at run time.
    pub fn detect() -> Isa {
        *Isa::available().last().unwrap_or(&Isa::Scalar)
    }

    /// Every instruction set this CPU runs, narrowest first (what the
    /// property tests force in turn).
    pub fn available() -> Vec<Isa> {
        #[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(unused_mut))]
        let mut isas = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                isas.push(Isa::Avx2);
            }
            if is_x86_feature_detected!("avx512f") {
                isas.push(Isa::Avx512);
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            if std::arch::is_aarch64_feature_detected!("neon") {
                isas.push(Isa::Neon);
            }
        }
        isas
    }

    /// The name `TAXA_KERNEL_ISA` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// The instruction set to use: [`detect`](Self::detect)'s, or the one
    /// `TAXA_KERNEL_ISA` names when this CPU runs it (to measure the others).
    pub fn chosen() -> Isa {
        let available = Isa::available();
        std::env::var("TAXA_KERNEL_ISA")
            .ok()
            .and_then(|name| available.iter().copied().find(|isa| isa.name() == name.trim()))
            .unwrap_or_else(Isa::detect)
    }
}

/// Defines `fn $name(isa: Isa, args…)` that runs `$generic::<L>(args…)` with
/// `L` the lanes of `isa`, each instruction set's copy compiled inside a
/// `#[target_feature]` function so its intrinsics inline. `isa` must come
/// from [`Isa::available`] (or [`Isa::chosen`]); anything else runs scalar.
macro_rules! isa_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $generic:ident) => {
        $(#[$meta])*
        $vis fn $name(isa: $crate::kernels::simd::Isa, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            unsafe fn avx512($($arg: $ty),*) {
                unsafe { $generic::<$crate::kernels::simd::Avx512>($($arg),*) }
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) {
                unsafe { $generic::<$crate::kernels::simd::Avx2>($($arg),*) }
            }
            #[cfg(target_arch = "aarch64")]
            #[target_feature(enable = "neon")]
            unsafe fn neon($($arg: $ty),*) {
                unsafe { $generic::<$crate::kernels::simd::Neon>($($arg),*) }
            }
            // SAFETY: each path runs only where `Isa::available` found its
            // instruction set; the generic kernel checks its own bounds.
            unsafe {
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    $crate::kernels::simd::Isa::Avx512 => avx512($($arg),*),
                    #[cfg(target_arch = "x86_64")]
                    $crate::kernels::simd::Isa::Avx2 => avx2($($arg),*),
                    #[cfg(target_arch = "aarch64")]
                    $crate::kernels::simd::Isa::Neon => neon($($arg),*),
                    _ => $generic::<$crate::kernels::simd::Scalar>($($arg),*),
                }
            }
        }
    };
}
pub(crate) use isa_dispatch;

/// A vector of `WIDTH` f32 lanes. Every method is `unsafe`: the caller runs
/// it only where the instruction set is present ([`Isa::available`]) and
/// only on pointers valid for `WIDTH` (or `2 × WIDTH`) floats.
pub(crate) trait Lanes {
    const WIDTH: usize;
    type V: Copy;
    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `a × b + c`.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    /// Loads `2 × WIDTH` floats and returns (the even ones, the odd ones).
    unsafe fn deinterleave(p: *const f32) -> (Self::V, Self::V);
}

pub(crate) struct Scalar;

impl Lanes for Scalar {
    const WIDTH: usize = 1;
    type V = f32;
    #[inline(always)]
    unsafe fn splat(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> f32 {
        unsafe { *p }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: f32) {
        unsafe { *p = v }
    }
    #[inline(always)]
    unsafe fn fma(a: f32, b: f32, c: f32) -> f32 {
        // Not `mul_add`: without FMA hardware that is a libm call.
        a * b + c
    }
    #[inline(always)]
    unsafe fn mul(a: f32, b: f32) -> f32 {
        a * b
    }
    #[inline(always)]
    unsafe fn add(a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    unsafe fn max(a: f32, b: f32) -> f32 {
        a.max(b)
    }
    #[inline(always)]
    unsafe fn min(a: f32, b: f32) -> f32 {
        a.min(b)
    }
    #[inline(always)]
    unsafe fn deinterleave(p: *const f32) -> (f32, f32) {
        unsafe { (*p, *p.add(1)) }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Lanes;
    use std::arch::x86_64::*;

    pub(crate) struct Avx2;

    impl Lanes for Avx2 {
        const WIDTH: usize = 8;
        type V = __m256;
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_max_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn min(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_min_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn deinterleave(p: *const f32) -> (__m256, __m256) {
            unsafe {
                let a = _mm256_loadu_ps(p);
                let b = _mm256_loadu_ps(p.add(8));
                // Within each 128-bit half: [a0 a2 b0 b2 | a4 a6 b4 b6], then
                // the 64-bit quarters reordered 0, 2, 1, 3.
                let even = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
                let odd = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
                let even = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(even)));
                let odd = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(odd)));
                (even, odd)
            }
        }
    }

    pub(crate) struct Avx512;

    impl Lanes for Avx512 {
        const WIDTH: usize = 16;
        type V = __m512;
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_max_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn min(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_min_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn deinterleave(p: *const f32) -> (__m512, __m512) {
            unsafe {
                let a = _mm512_loadu_ps(p);
                let b = _mm512_loadu_ps(p.add(16));
                let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
                (_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b))
            }
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub(crate) use arm::Neon;

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::Lanes;
    use std::arch::aarch64::*;

    pub(crate) struct Neon;

    impl Lanes for Neon {
        const WIDTH: usize = 4;
        type V = float32x4_t;
        #[inline(always)]
        unsafe fn splat(x: f32) -> float32x4_t {
            unsafe { vdupq_n_f32(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> float32x4_t {
            unsafe { vld1q_f32(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: float32x4_t) {
            unsafe { vst1q_f32(p, v) }
        }
        #[inline(always)]
        unsafe fn fma(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
            unsafe { vfmaq_f32(c, a, b) }
        }
        #[inline(always)]
        unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            unsafe { vmulq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            unsafe { vaddq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            unsafe { vmaxq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn min(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            unsafe { vminq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn deinterleave(p: *const f32) -> (float32x4_t, float32x4_t) {
            unsafe {
                let pair = vld2q_f32(p);
                (pair.0, pair.1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each path's de-interleave against the scalar definition.
    fn check_deinterleave<L: Lanes>(run: impl Fn(&[f32]) -> (Vec<f32>, Vec<f32>)) {
        let data: Vec<f32> = (0..2 * L::WIDTH).map(|i| i as f32 * 1.5 - 3.0).collect();
        let (even, odd) = run(&data);
        assert_eq!(even, data.iter().step_by(2).copied().collect::<Vec<_>>());
        assert_eq!(odd, data.iter().skip(1).step_by(2).copied().collect::<Vec<_>>());
    }

    #[test]
    fn deinterleave_splits_even_and_odd_on_every_available_path() {
        for isa in Isa::available() {
            match isa {
                Isa::Scalar => check_deinterleave::<Scalar>(|d| unsafe {
                    let (e, o) = Scalar::deinterleave(d.as_ptr());
                    (vec![e], vec![o])
                }),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => check_deinterleave::<Avx2>(|d| unsafe {
                    let (e, o) = avx2_pair(d);
                    (e.to_vec(), o.to_vec())
                }),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => check_deinterleave::<Avx512>(|d| unsafe {
                    let (e, o) = avx512_pair(d);
                    (e.to_vec(), o.to_vec())
                }),
                #[cfg(target_arch = "aarch64")]
                Isa::Neon => check_deinterleave::<Neon>(|d| unsafe {
                    let (e, o) = Neon::deinterleave(d.as_ptr());
                    let (mut ev, mut ov) = ([0f32; 4], [0f32; 4]);
                    Neon::store(ev.as_mut_ptr(), e);
                    Neon::store(ov.as_mut_ptr(), o);
                    (ev.to_vec(), ov.to_vec())
                }),
                #[allow(unreachable_patterns)]
                _ => unreachable!("{isa:?} is not available on this architecture"),
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2_pair(d: &[f32]) -> ([f32; 8], [f32; 8]) {
        let (mut e, mut o) = ([0f32; 8], [0f32; 8]);
        unsafe {
            let (ve, vo) = Avx2::deinterleave(d.as_ptr());
            Avx2::store(e.as_mut_ptr(), ve);
            Avx2::store(o.as_mut_ptr(), vo);
        }
        (e, o)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512_pair(d: &[f32]) -> ([f32; 16], [f32; 16]) {
        let (mut e, mut o) = ([0f32; 16], [0f32; 16]);
        unsafe {
            let (ve, vo) = Avx512::deinterleave(d.as_ptr());
            Avx512::store(e.as_mut_ptr(), ve);
            Avx512::store(o.as_mut_ptr(), vo);
        }
        (e, o)
    }
}
