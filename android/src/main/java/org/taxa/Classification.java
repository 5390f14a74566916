package org.taxa;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** The result for one image or frame: top-k predictions and the roll-up. */
public final class Classification {
    /** Best first. */
    public final List<Prediction> predictions;
    /** The deepest confident taxon, or null when none reaches the threshold. */
    public final TaxonScore rollup;
    /** The roll-up's lineage, root first (empty without a roll-up). */
    public final List<TaxonScore> lineage;

    /** Built by the native bridge. */
    Classification(Prediction[] predictions, TaxonScore rollup, TaxonScore[] lineage) {
        this.predictions = Collections.unmodifiableList(Arrays.asList(predictions));
        this.rollup = rollup;
        this.lineage = Collections.unmodifiableList(Arrays.asList(lineage));
    }

    @Override public String toString() {
        return predictions + (rollup == null ? "" : " → " + rollup);
    }
}
