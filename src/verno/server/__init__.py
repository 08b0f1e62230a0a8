"""The admission webhook server (``verno serve``): AdmissionReview in, AdmissionReview out."""
