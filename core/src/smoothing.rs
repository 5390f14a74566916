//! Live camera: a running mean of the last N frames' class probabilities, so
//! the answer stops flickering between species frame to frame. iNaturalist's
//! camera (Seek, the iNaturalist app's AR camera) averages 5 frames; the
//! top-k, filters and taxonomic roll-up then run on the smoothed scores.

use std::collections::VecDeque;

use crate::camera::{Rotation, Yuv420Frame};
use crate::classifier::Classifier;
use crate::classify::{Classification, ClassifyOptions};
use crate::error::{Result, TaxaError};

/// Running mean over the last `window` frames' probabilities (one score a
/// class, in the model's output order). Not thread-safe by itself: one
/// smoother per camera stream.
#[derive(Debug, Clone)]
pub struct ScoreSmoother {
    window: usize,
    frames: VecDeque<Vec<f32>>,
}

impl Default for ScoreSmoother {
    fn default() -> Self {
        ScoreSmoother { window: Self::DEFAULT_WINDOW, frames: VecDeque::new() }
    }
}

impl ScoreSmoother {
    /// iNaturalist's camera averages over 5 frames.
    pub const DEFAULT_WINDOW: usize = 5;

    /// A smoother over the last `window` frames (at least 1; 1 means no
    /// smoothing). A window of 0 is [`TaxaError::InvalidOptions`].
    pub fn new(window: usize) -> Result<Self> {
        if window == 0 {
            return Err(TaxaError::InvalidOptions("the smoothing window must be at least 1 frame".into()));
        }
        Ok(ScoreSmoother { window, frames: VecDeque::with_capacity(window) })
    }

    pub fn window(&self) -> usize {
        self.window
    }

    /// Frames currently averaged (at most the window).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Forgets every frame (the camera moved to a new subject, or the model changed).
    pub fn reset(&mut self) {
        self.frames.clear();
    }

    /// Adds one frame's probabilities and returns the mean over the frames
    /// held (the oldest is dropped once `window` are held). A frame whose
    /// class count differs from the frames held is
    /// [`TaxaError::ScoreCountMismatch`]; a non-finite score is
    /// [`TaxaError::Inference`]. Either leaves the smoother unchanged.
    pub fn push(&mut self, probabilities: &[f32]) -> Result<Vec<f32>> {
        if let Some(first) = self.frames.front()
            && first.len() != probabilities.len()
        {
            return Err(TaxaError::ScoreCountMismatch { expected: first.len(), got: probabilities.len() });
        }
        if probabilities.iter().any(|p| !p.is_finite()) {
            return Err(TaxaError::Inference("a frame has non-finite scores".into()));
        }
        if self.frames.len() == self.window {
            self.frames.pop_front();
        }
        self.frames.push_back(probabilities.to_vec());
        Ok(self.smoothed().unwrap_or_default())
    }

    /// The mean over the frames held, or `None` before the first frame.
    pub fn smoothed(&self) -> Option<Vec<f32>> {
        let first = self.frames.front()?;
        // Summed in f64 so the mean of equal frames is the frame itself.
        let mut sum = vec![0f64; first.len()];
        for frame in &self.frames {
            for (s, p) in sum.iter_mut().zip(frame) {
                *s += *p as f64;
            }
        }
        let n = self.frames.len() as f64;
        Some(sum.into_iter().map(|s| (s / n) as f32).collect())
    }
}

impl Classifier {
    /// Runs the model on one preprocessed input, adds its probabilities to
    /// `smoother`, and returns the top-k and roll-up of the smoothed scores.
    /// Errors: those of [`Classifier::infer`] and [`ScoreSmoother::push`].
    pub fn classify_input_smoothed(&self, input: Vec<f32>, smoother: &mut ScoreSmoother, options: &ClassifyOptions) -> Result<Classification> {
        options.validate()?;
        let probabilities = self.infer(input)?;
        let smoothed = smoother.push(&probabilities)?;
        self.classify_probabilities(smoothed, options)
    }

    /// [`Classifier::classify_yuv420`] over a live stream: the result is
    /// that of the mean probabilities of the last `smoother.window()` frames.
    pub fn classify_yuv420_smoothed(
        &self,
        frame: &Yuv420Frame<'_>,
        rotation: Rotation,
        smoother: &mut ScoreSmoother,
        options: &ClassifyOptions,
    ) -> Result<Classification> {
        options.validate()?;
        let input = self.preprocess_yuv420(frame, rotation)?;
        self.classify_input_smoothed(input, smoother, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_runs_over_the_last_window_frames() {
        let mut s = ScoreSmoother::new(3).unwrap();
        assert_eq!(s.smoothed(), None);
        assert_eq!(s.push(&[1.0, 0.0]).unwrap(), [1.0, 0.0]);
        assert_eq!(s.push(&[0.0, 1.0]).unwrap(), [0.5, 0.5]);
        let m = s.push(&[0.0, 1.0]).unwrap();
        assert!((m[0] - 1.0 / 3.0).abs() < 1e-7 && (m[1] - 2.0 / 3.0).abs() < 1e-7, "{m:?}");
        // The first frame leaves the window.
        assert_eq!(s.push(&[0.0, 1.0]).unwrap(), [0.0, 1.0]);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn a_flickering_top_class_settles() {
        // Frames alternate between two near-tied species; the mean keeps one winner.
        let mut s = ScoreSmoother::default();
        assert_eq!(s.window(), 5);
        let (a, b) = ([0.55, 0.40, 0.05], [0.42, 0.53, 0.05]);
        let frames = [a, b, a, b, a];
        let mut raw = Vec::new();
        let mut winners = Vec::new();
        for f in frames.iter().cycle().take(12) {
            raw.push(if f[0] >= f[1] { 0 } else { 1 });
            let m = s.push(f).unwrap();
            winners.push(if m[0] >= m[1] { 0 } else { 1 });
        }
        assert!(raw.contains(&1), "the raw frames flicker: {raw:?}");
        assert!(winners.iter().all(|&w| w == 0), "{winners:?}");
    }

    #[test]
    fn mismatched_class_counts_and_bad_scores_are_typed_errors_that_keep_state() {
        assert!(matches!(ScoreSmoother::new(0), Err(TaxaError::InvalidOptions(_))));
        let mut s = ScoreSmoother::new(2).unwrap();
        s.push(&[0.2, 0.8]).unwrap();
        match s.push(&[0.1, 0.2, 0.7]) {
            Err(e @ TaxaError::ScoreCountMismatch { expected: 2, got: 3 }) => assert_eq!(e.kind(), "score_count_mismatch"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(s.push(&[f32::NAN, 1.0]), Err(TaxaError::Inference(_))));
        assert_eq!(s.smoothed().unwrap(), [0.2, 0.8]);
        s.reset();
        assert!(s.is_empty());
        // After a reset another model's class count is accepted.
        assert_eq!(s.push(&[0.1, 0.2, 0.7]).unwrap(), [0.1, 0.2, 0.7]);
    }
}
