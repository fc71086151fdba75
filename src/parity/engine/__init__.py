"""How serving engines and training frameworks behave beyond the kernels: engine profiles and the software maturity
they carry to other stacks (profile), engine versions' defaults and kernels (versions), and the training-framework
profile (training)."""

from parity.engine.host_ops import HostOps
from parity.engine.profile import (KERNEL_QUALITY, MLA_DECODE, STACK_QUALITY, EngineProfile, field_origins,
                                   maturity_sources, measured_stack_prior, measures_maturity,
                                   stack_prior)
from parity.engine.sections import IDENTITY, PROFILE_SECTIONS, ProfileSection, section_of
from parity.engine.training import TrainingProfile
from parity.engine.versions import (DEFAULT_FIELDS, FP4_GEMMS, FP8_GEMMS, GATHERING_MOE_BACKENDS, KERNEL_OPS,
                                    MOE_BACKENDS, EngineDefault, EngineHost, EngineKernel, engine_version,
                                    version_defaults, version_host, version_kernels)

__all__ = ["EngineProfile", "HostOps", "TrainingProfile", "MLA_DECODE", "EngineDefault", "DEFAULT_FIELDS",
           "engine_version", "version_defaults", "KERNEL_OPS", "FP8_GEMMS", "FP4_GEMMS", "MOE_BACKENDS",
           "GATHERING_MOE_BACKENDS",
           "EngineKernel", "version_kernels", "EngineHost", "version_host", "KERNEL_QUALITY", "STACK_QUALITY",
           "stack_prior", "measured_stack_prior", "maturity_sources", "measures_maturity", "field_origins",
           "ProfileSection",
           "PROFILE_SECTIONS", "IDENTITY", "section_of"]
