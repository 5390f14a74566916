package org.taxa;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What a classification returns. Defaults: top 5, no score floor, roll-up threshold 0.8. */
public final class ClassifyOptions {
    public int topK = 5;
    public float minScore = 0f;
    /** Labels or higher taxa (e.g. "Plantae", "Rana") to restrict to; empty means all. */
    public List<String> allow = new ArrayList<>();
    /** Labels or higher taxa to ignore. */
    public List<String> deny = new ArrayList<>();
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
