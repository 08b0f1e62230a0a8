"""The engine core: loading, matching, variables, JMESPath, conditions, context and the rule pipeline."""
