package org.taxa;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The result for one image: top-k predictions and the roll-up. */
public final class Classification {
    /** Best first. */
    public final List<Prediction> predictions;
    /** The deepest confident taxon, or null when none reaches the threshold. */
    public final TaxonScore rollup;
    /** The roll-up's lineage, root first (empty without a roll-up). */
    public final List<TaxonScore> lineage;

    private Classification(List<Prediction> predictions, TaxonScore rollup, List<TaxonScore> lineage) {
        this.predictions = Collections.unmodifiableList(predictions);
        this.rollup = rollup;
        this.lineage = Collections.unmodifiableList(lineage);
    }

    /** Reads the flat layout written by the native bridge (see jni_bridge.rs). */
    static Classification fromFlat(String[] f) {
        int i = 0;
        int count = Integer.parseInt(f[i++]);
        List<Prediction> predictions = new ArrayList<>(count);
        for (int p = 0; p < count; p++) {
            predictions.add(new Prediction(Integer.parseInt(f[i]), f[i + 1], Float.parseFloat(f[i + 2]),
                    f[i + 3], f[i + 4], f[i + 5], f[i + 6], f[i + 7], f[i + 8], f[i + 9], f[i + 10]));
            i += 11;
        }
        TaxonScore rollup = null;
        List<TaxonScore> lineage = new ArrayList<>();
        if (f[i++].equals("1")) {
            rollup = new TaxonScore(f[i], f[i + 1], Float.parseFloat(f[i + 2]));
            int depth = Integer.parseInt(f[i + 3]);
            i += 4;
            for (int d = 0; d < depth; d++, i += 3) {
                lineage.add(new TaxonScore(f[i], f[i + 1], Float.parseFloat(f[i + 2])));
            }
        }
        return new Classification(predictions, rollup, lineage);
    }
}
