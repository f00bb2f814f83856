// The isomorphic core of gradlens: everything that runs the same in Node and in a browser. It imports nothing from
// node:* and no ONNX Runtime build (test/core/isomorphic.test.ts checks); the entries (index.ts for Node, web.ts for
// browsers) add a runtime backend and file access.
export { GradlensError } from './errors.js';
export { decodeModel, encodeModel, readModelFrom } from './onnx/model.js';
export type { ModelProto } from './onnx/proto.js';
export { vjpModel, cotangentName, gradName, type VjpSpec } from './autodiff/vjp.js';
export { RULES, NON_DIFFERENTIABLE } from './autodiff/rules.js';
export { Session, tensor, registerBackend, type Backend, type HostTensor, type DType, type SessionOptions } from './runtime/session.js';
export { ModelRunner } from './attr/runner.js';
export { GradientAttribution, convergenceDelta, type AttributionResult, type Baselines, type CommonOptions } from './attr/base.js';
export { IntegratedGradients, type IntegratedGradientsOptions } from './attr/integrated-gradients.js';
export { LayerIntegratedGradients, type LayerIntegratedGradientsOptions } from './attr/layer-integrated-gradients.js';
export { Saliency, type SaliencyOptions } from './attr/saliency.js';
export { InputXGradient } from './attr/input-x-gradient.js';
export { NoiseTunnel, type NoiseTunnelOptions, type NoiseTunnelType } from './attr/noise-tunnel.js';
export { GradientShap, type GradientShapOptions } from './attr/gradient-shap.js';
export { Occlusion, type OcclusionOptions } from './attr/occlusion.js';
export { FeatureAblation, type FeatureAblationOptions } from './attr/feature-ablation.js';
export { ShapleyValueSampling, type ShapleyValueSamplingOptions } from './attr/shapley.js';
export { KernelShap } from './attr/kernel-shap.js';
export { Lime, type LimeOptions } from './attr/lime.js';
export type { PerturbationOptions } from './attr/perturbation.js';
export { quadrature, legendreGauss, INTEGRATION_METHODS, type IntegrationMethod } from './attr/quadrature.js';
export {
  METHOD_TABLE, METHODS, methodsFor, OPTIONS, DEFAULT_SETTINGS, GRANULARITIES, parseSettings, methodSpec, defaultFor,
  type ExplainSettings, type MethodSpec, type OptionSpec, type OptionKey, type SettingValues,
} from './attr/registry.js';
export type { Target, TargetSpec, TargetIndex } from './attr/targets.js';
export { loadModelFromSource, type LoadedModel, type LoadOptions } from './models/load.js';
export { LayerGradCam, type GradCamOptions } from './attr/grad-cam.js';
export { loadDenseFromSource, findSpatialLayer, type DenseModel, type DenseKind, type DenseLoadOptions } from './models/dense.js';
export { decodeImage, encodeRgbPng, resizeImage, centerCrop, prepareImage, pixelValues, imageProcessorFromConfig, type RgbImage, type ImageProcessor } from './models/image.js';
export { explainImage, encodeFloat32, decodeFloat32, IMAGE_BASELINES, type ImageExplanation, type ImageOptions, type ImageBaseline, type ImageViewData } from './tasks/image.js';
export { explainTabular, rowValues, tableRows, columnMeans, csvRow, jsonRow, TABULAR_BASELINES, type TabularExplanation, type TabularOptions } from './tasks/tabular.js';
export { renderPanels, renderImageHtml, normalizeAttr, SIGNS, VIEWS, type Sign, type View, type Panels } from './viz/image.js';
export { renderTabularHtml, renderTabularSvg, renderTabularText } from './viz/tabular.js';
export { MemorySource, BlobSource, UrlSource, HubSource, type ModelSource } from './io/source.js';
export { TextTokenizer, type Encoded } from './models/tokenizer.js';
export { TASK_TABLE, SEED_EXAMPLE, runTask, explainQa, explainClassify, explainTokens, explainZeroShot, type Explanation, type TaskInput, type TaskName } from './tasks/index.js';
export type { Progress, TargetAttribution } from './tasks/attribute.js';
export { loadDecoderFromSource, type DecoderModel } from './models/decoder.js';
export { explainGeneration, attributeSteps, type GenerationExplanation, type GenerateOptions, type StepAttribution } from './tasks/generate.js';
export { renderGenerationHtml, renderGenerationSvg, renderGenerationText } from './viz/generate.js';
export { renderHtml } from './viz/html.js';
export { renderSvg } from './viz/svg.js';
export { renderText } from './viz/text.js';
