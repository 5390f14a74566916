package org.taxa;

/** One class and its score, with where it sits in the tree of life (fields may be null). */
public final class Prediction {
    public final int classIndex;
    public final String label;
    public final float score;
    public final String kingdom, phylum, className, order, family, genus, species, commonName;
    /** False for a class that is not a taxon (iNaturalist's {@code background}): as the best prediction, "no species recognised". */
    public final boolean isTaxon;

    Prediction(int classIndex, String label, float score, String kingdom, String phylum, String className,
               String order, String family, String genus, String species, String commonName, boolean isTaxon) {
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
        this.isTaxon = isTaxon;
    }

    @Override public String toString() {
        return String.format("%.4f %s", score, label);
    }
}
