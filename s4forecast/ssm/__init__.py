"""State space machinery: HiPPO matrices (hippo), discretisation (discretize), the Cauchy kernel
(cauchy), convolution kernels (kernels), the recurrent view (recurrence), parameterised SSMs (systems)."""
