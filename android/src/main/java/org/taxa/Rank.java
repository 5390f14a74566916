package org.taxa;

/** A Linnaean rank, from the root of the tree of life down. */
public enum Rank {
    KINGDOM, PHYLUM, CLASS, ORDER, FAMILY, GENUS, SPECIES;

    /** The lower-case name taxa uses in bundles and JSON ("kingdom" … "species"). */
    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
