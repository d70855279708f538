"""Target test packages (named `targets.<cloud>` so none shadows a vendor package such as `sagemaker`)."""
