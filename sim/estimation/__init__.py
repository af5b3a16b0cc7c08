"""Estimation of structural gravity from trade data (``sim estimate``).

Reading a long trade table (:mod:`sim.estimation.read`), fitting trade costs by
Poisson pseudo-maximum likelihood with exporter and importer fixed effects
(:mod:`sim.estimation.gravity`), and writing the coefficients, the fit and a
scenario fragment (:mod:`sim.estimation.write`).
"""
