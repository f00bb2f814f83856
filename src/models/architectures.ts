/**
 * What gradlens needs to know per architecture (config.model_type): the graph inputs it takes and how its reference
 * input (the attribution baseline) is built. Unknown types fall back to what the graph itself declares.
 */
export interface Architecture {
  modelType: string;
  /** Does the exported graph take token_type_ids? (Checked against the graph's inputs too.) */
  tokenTypes: boolean;
  /** Token used for the baseline's non-special positions, by default. */
  baselineToken: 'pad';
  /** Positions are derived inside the model from the mask of non-pad ids (RoBERTa family). */
  positionsFromMask: boolean;
  /** Max usable positions = max_position_embeddings − this (RoBERTa reserves padding_idx + 1). */
  positionOffset: number;
}

const arch = (modelType: string, tokenTypes: boolean, positionsFromMask = false, positionOffset = 0): Architecture =>
  ({ modelType, tokenTypes, baselineToken: 'pad', positionsFromMask, positionOffset });

export const ARCHITECTURES: Record<string, Architecture> = {
  bert: arch('bert', true),
  distilbert: arch('distilbert', false),
  roberta: arch('roberta', false, true, 2),
  'xlm-roberta': arch('xlm-roberta', false, true, 2),
  camembert: arch('camembert', false, true, 2),
  albert: arch('albert', true),
  electra: arch('electra', true),
  mobilebert: arch('mobilebert', true),
};

export function architectureFor(modelType: string | undefined, graphInputs: readonly string[]): { arch: Architecture; known: boolean } {
  // An own property only: a model_type of "constructor" or "__proto__" is an unknown type, not Object's.
  const known = typeof modelType === 'string' && Object.hasOwn(ARCHITECTURES, modelType);
  const base = known ? ARCHITECTURES[modelType!]! : arch(modelType ?? 'unknown', graphInputs.includes('token_type_ids'));
  // The graph has the last word on which inputs exist.
  return { arch: { ...base, tokenTypes: graphInputs.includes('token_type_ids') }, known };
}
