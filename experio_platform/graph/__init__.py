"""Graph providers (Neo4j, FalkorDB) behind one interface."""
