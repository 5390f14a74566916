package org.taxa;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What a classification returns. Defaults: top 5, no score floor, roll-up threshold 0.8.
 * Out-of-range values throw {@link TaxaException} of kind {@code INVALID_ARGUMENT}.
 * There is no option to accept truncated files: from Java they are always refused
 * ({@code INVALID_IMAGE}).
 */
public final class ClassifyOptions {
    /** How many predictions to return at most, best first; at least 1. Fewer come back after minScore, allow and deny. */
    public int topK = 5;
    /** Predictions whose probability (0 to 1, over all classes) is below this are dropped; 0 to 1. */
    public float minScore = 0f;
    /** Labels or higher taxa (e.g. "Plantae", "Rana") to restrict to; empty means all. Whole names, ASCII case-insensitive. */
    public List<String> allow = new ArrayList<>();
    /** Labels or higher taxa to ignore; wins over allow. */
    public List<String> deny = new ArrayList<>();
    /** The summed probability a taxon needs for the roll-up to descend into it; above 0 and at most 1. */
    public float rollupThreshold = 0.8f;

    public static ClassifyOptions defaults() {
        return new ClassifyOptions();
    }

    public ClassifyOptions topK(int k) { this.topK = k; return this; }
    public ClassifyOptions minScore(float s) { this.minScore = s; return this; }
    public ClassifyOptions allow(String... taxa) { Collections.addAll(this.allow, taxa); return this; }
    public ClassifyOptions deny(String... taxa) { Collections.addAll(this.deny, taxa); return this; }
    public ClassifyOptions rollupThreshold(float t) { this.rollupThreshold = t; return this; }
}
