package org.taxa;

/** A taxon and its summed score (a probability, 0–1). */
public final class TaxonScore {
    public final Rank rank;
    public final String name;
    public final float score;

    /** Built by the native bridge. */
    TaxonScore(Rank rank, String name, float score) {
        this.rank = rank;
        this.name = name;
        this.score = score;
    }

    @Override public String toString() {
        return rank.id() + " " + name + " (" + score + ")";
    }
}
