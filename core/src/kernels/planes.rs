//! The input layout every kernel reads: each input row copied once, padded
//! with a fill value and, for stride 2, split into its even and odd columns,
//! so that every tap of every output vector is one contiguous load and no
//! loop tests a border.

use super::simd::Lanes;

/// A sliding window over one NCHW plane: its sizes, stride and padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// Kernel height and width, in pixels.
    pub kernel: [usize; 2],
    /// Stride on both axes: 1 or 2.
    pub stride: usize,
    /// Padding before the first row and the first column, in pixels.
    /// Padding after is implied by `output`: whatever a window reads past
    /// the input is the fill value.
    pub pad_top: usize,
    pub pad_left: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
}

/// Output columns are computed in vectors of up to this many floats; rows
/// are padded to a multiple of it whatever the instruction set, so the
/// layout does not depend on it.
const MAX_WIDTH: usize = 16;

impl Window {
    /// Floats in one phase (the even or odd columns) of a prepared row.
    pub(crate) fn phase_len(&self) -> usize {
        self.output[1].div_ceil(MAX_WIDTH) * MAX_WIDTH + (self.kernel[1] - 1) / self.stride
    }

    /// Floats in a prepared row: all its phases.
    pub(crate) fn row_len(&self) -> usize {
        self.stride * self.phase_len()
    }

    /// Floats in one prepared plane: each input row, then a row of fill
    /// (what taps above or below the input read).
    pub(crate) fn plane_len(&self) -> usize {
        (self.input[0] + 1) * self.row_len()
    }

    /// The offset, in a prepared plane, of the row tap `ky` of output row
    /// `oy` reads.
    #[inline(always)]
    pub(crate) fn tap_row(&self, oy: usize, ky: usize) -> usize {
        let y = (oy * self.stride + ky).wrapping_sub(self.pad_top);
        if y < self.input[0] { y * self.row_len() } else { self.input[0] * self.row_len() }
    }

    /// The offset, in a prepared row, of output column 0 for tap `kx`.
    #[inline(always)]
    pub(crate) fn tap_column(&self, kx: usize) -> usize {
        (kx % self.stride) * self.phase_len() + kx / self.stride
    }

    /// Whether the window is one the kernels take: stride 1 or 2, a kernel
    /// no larger than 7 and padding smaller than it, and an output whose
    /// every window starts inside the padded input.
    pub fn supported(&self) -> bool {
        let [kh, kw] = self.kernel;
        let [h, w] = self.input;
        let [oh, ow] = self.output;
        (1..=2).contains(&self.stride)
            && (1..=7).contains(&kh)
            && (1..=7).contains(&kw)
            && self.pad_top < kh
            && self.pad_left < kw
            && h > 0
            && w > 0
            && oh > 0
            && ow > 0
            && (oh - 1) * self.stride < h + self.pad_top
            && (ow - 1) * self.stride < w + self.pad_left
    }
}

/// Copies one `H × W` input plane into `out` (`window.plane_len()` floats)
/// in the prepared layout, `fill` where the window reads outside the input.
#[inline(always)]
pub(crate) unsafe fn prepare_plane<L: Lanes>(input: &[f32], window: &Window, fill: f32, out: &mut [f32]) {
    let [h, w] = window.input;
    let row_len = window.row_len();
    debug_assert!(input.len() >= h * w && out.len() >= window.plane_len());
    for y in 0..h {
        unsafe { prepare_row::<L>(&input[y * w..(y + 1) * w], window, fill, &mut out[y * row_len..(y + 1) * row_len]) };
    }
    out[h * row_len..(h + 1) * row_len].fill(fill);
}

super::simd::isa_dispatch!(
    /// [`prepare_plane`] on the instruction set `isa`.
    pub(crate) fn prepare(input: &[f32], window: &Window, fill: f32, out: &mut [f32]) => prepare_checked
);

#[inline(always)]
unsafe fn prepare_checked<L: Lanes>(input: &[f32], window: &Window, fill: f32, out: &mut [f32]) {
    assert!(input.len() >= window.input[0] * window.input[1] && out.len() >= window.plane_len());
    unsafe { prepare_plane::<L>(input, window, fill, out) }
}

#[inline(always)]
unsafe fn prepare_row<L: Lanes>(src: &[f32], window: &Window, fill: f32, out: &mut [f32]) {
    let pad = window.pad_left;
    let w = src.len();
    let phase_len = window.phase_len();
    if window.stride == 1 {
        // out[j] = src[j − pad]
        let end = (w + pad).min(phase_len);
        out[..pad].fill(fill);
        out[pad..end].copy_from_slice(&src[..end - pad]);
        out[end..].fill(fill);
        return;
    }
    // Stride 2: phase p, column j holds src[2j + p − pad].
    let (even, odd) = out.split_at_mut(phase_len);
    let column = |j: usize, p: usize| (2 * j + p).checked_sub(pad).filter(|&x| x < w).map_or(fill, |x| src[x]);
    let first = pad.div_ceil(2);
    let mut j = 0;
    while j < first.min(phase_len) {
        even[j] = column(j, 0);
        odd[j] = column(j, 1);
        j += 1;
    }
    // Whole vectors while both phases' sources lie inside the row.
    while j + L::WIDTH <= phase_len && 2 * j - pad + 2 * L::WIDTH <= w {
        unsafe {
            let (e, o) = L::deinterleave(src.as_ptr().add(2 * j - pad));
            L::store(even.as_mut_ptr().add(j), e);
            L::store(odd.as_mut_ptr().add(j), o);
        }
        j += L::WIDTH;
    }
    while j < phase_len {
        even[j] = column(j, 0);
        odd[j] = column(j, 1);
        j += 1;
    }
}

/// Stores the first `len` (1..=WIDTH) lanes of `v` at `out`: a whole vector,
/// or the last, partial one of a row through a buffer, so nothing past the
/// row is written. (No closures on the vector paths: a closure is compiled
/// without its caller's `target_feature` and its intrinsics stop inlining.)
#[inline(always)]
pub(crate) unsafe fn store_lanes<L: Lanes>(out: *mut f32, len: usize, v: L::V) {
    unsafe {
        if len == L::WIDTH {
            L::store(out, v);
        } else {
            let mut tail = [0f32; MAX_WIDTH];
            L::store(tail.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(tail.as_ptr(), out, len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::Scalar;

    #[test]
    fn a_stride_two_row_is_split_into_even_and_odd_columns_with_fill_at_the_borders() {
        let window = Window { kernel: [3, 3], stride: 2, pad_top: 1, pad_left: 1, input: [1, 5], output: [1, 3] };
        let src = [1.0, 2.0, 3.0, 4.0, 5.0];
        let mut plane = vec![f32::NAN; window.plane_len()];
        unsafe { prepare_plane::<Scalar>(&src, &window, -9.0, &mut plane) };
        let phase = window.phase_len();
        // Padded row: [-9, 1, 2, 3, 4, 5, -9, ...]: evens -9 2 4 -9.., odds 1 3 5 -9..
        assert_eq!(&plane[..4], &[-9.0, 2.0, 4.0, -9.0]);
        assert_eq!(&plane[phase..phase + 4], &[1.0, 3.0, 5.0, -9.0]);
        assert!(plane[window.row_len()..].iter().all(|&v| v == -9.0), "the fill row");
    }

    #[test]
    fn taps_outside_the_input_read_the_fill_row() {
        let window = Window { kernel: [3, 3], stride: 1, pad_top: 1, pad_left: 1, input: [4, 4], output: [4, 4] };
        assert_eq!(window.tap_row(0, 0), 4 * window.row_len());
        assert_eq!(window.tap_row(0, 1), 0);
        assert_eq!(window.tap_row(3, 2), 4 * window.row_len());
        assert!(window.supported());
        assert!(!Window { stride: 3, ..window }.supported());
    }
}
