package org.taxa;

/** One class and its score, with where it sits in the tree of life (fields may be null). */
public final class Prediction {
    public final int classIndex;
    public final String label;
    public final float score;
    public final String kingdom, phylum, className, order, family, genus, species, commonName;

    Prediction(int classIndex, String label, float score, String kingdom, String phylum, String className,
               String order, String family, String genus, String species, String commonName) {
        this.classIndex = classIndex;
        this.label = label;
        this.score = score;
        this.kingdom = kingdom;
        this.phylum = phylum;
        this.className = className;
        this.order = order;
        this.family = family;
        this.genus = genus;
        this.species = species;
        this.commonName = commonName;
    }

    @Override public String toString() {
        return String.format("%.4f %s", score, label);
    }
}
