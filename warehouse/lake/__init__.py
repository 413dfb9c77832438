"""The Parquet lake and the engines that read it (Spark, Trino DDL)."""
