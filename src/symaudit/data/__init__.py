"""The data stage: exactly equivariant look-alike generators, PDEGym ingestion, Zarr stores."""
