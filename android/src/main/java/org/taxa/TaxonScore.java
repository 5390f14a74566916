package org.taxa;

/** A taxon (rank: kingdom … species) and its summed score. */
public final class TaxonScore {
    public final String rank;
    public final String name;
    public final float score;

    TaxonScore(String rank, String name, float score) {
        this.rank = rank;
        this.name = name;
        this.score = score;
    }

    @Override public String toString() {
        return rank + " " + name + " (" + score + ")";
    }
}
