export {
  EstimateSkill,
  estimateLabel,
  median,
  ownEstimate,
  MEDIUM_BELOW,
  SHORT_BELOW,
  type CombinedEstimateOutput,
  type EstimateLabel,
  type EstimateOutput,
} from './estimate.skill';
