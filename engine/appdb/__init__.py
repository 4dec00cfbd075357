"""The Tradeblock app database as the engine sees it: faithful DDL and a synthetic data generator."""
